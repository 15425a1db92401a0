// Every check of a TOTP code, recovery code or passkey assertion goes through
// here, so each refusal is counted and audited the same way wherever it
// happens (CompleteMfa, ConfirmTotp, DisableTotp, FinishPasskeyLogin). The
// caller sees one error for every wrong answer (SECOND_FACTOR_REJECTED); the
// precise reason the modules put on the error (`rejection`) goes only into the
// audit trail and the metric's outcome.
import { Code } from "@connectrpc/connect";
import { DomainError } from "@trustmesh/runtime";
import type { MfaMethodLabel, MfaOutcome } from "../auth-metrics.ts";
import { type SecondFactorChange, secondFactorChangedMessage } from "../messages.ts";
import { SecondFactorRejectedError } from "../mfa/errors.ts";
import type { AuditRecord, UserAccount } from "../store.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";

/** How a failed check is counted; undefined for errors that are not an answer being refused (bad input, wrong step). */
function failureOf(error: unknown): Exclude<MfaOutcome, "succeeded" | "invalid_token"> | undefined {
  if (error instanceof SecondFactorRejectedError) {
    if (error.rejection === "TOTP_CODE_REPLAYED") return "replayed";
    if (error.rejection === "PASSKEY_COUNTER_REGRESSED") return "counter_regressed";
    return "rejected";
  }
  if (error instanceof DomainError && error.code === Code.ResourceExhausted) return "exhausted";
  return undefined;
}

/**
 * Runs one second-factor check. On success counts `succeeded`; on a refusal
 * counts it by outcome, writes `mfa_failed` with the precise rejection, and
 * for a counter that did not move forward also `passkey_counter_regressed`
 * (a possibly cloned authenticator, for a person to look at), then rethrows.
 */
export async function checkSecondFactor<T>(
  dependencies: AuthServiceDependencies,
  input: { method: MfaMethodLabel; during: string; audit: Omit<AuditRecord, "kind"> },
  check: () => Promise<T>,
): Promise<T> {
  const { metrics, store } = dependencies;
  let result: T;
  try {
    result = await check();
  } catch (error) {
    const outcome = failureOf(error);
    if (outcome === undefined) throw error;
    metrics.mfa.inc({ method: input.method, outcome });
    const rejection = error instanceof SecondFactorRejectedError ? error.rejection : (error as DomainError).reason;
    const passkeyId = error instanceof SecondFactorRejectedError ? error.passkeyId : undefined;
    const detail = {
      ...input.audit.detail,
      method: input.method,
      during: input.during,
      rejection,
      ...(passkeyId ? { passkey_id: passkeyId } : {}),
    };
    await store.audit({ ...input.audit, kind: "mfa_failed", detail });
    if (outcome === "counter_regressed") await store.audit({ ...input.audit, kind: "passkey_counter_regressed", detail });
    throw error;
  }
  metrics.mfa.inc({ method: input.method, outcome: "succeeded" });
  return result;
}

/** The name an authenticator shows for the account: its email, else its phone number. */
export function accountName(user: UserAccount): string {
  return user.email ?? user.phoneNumber ?? user.id;
}

/**
 * Tells the owner, on a verified contact, that a sign-in method changed: a
 * stolen session adding its own factor, or removing the owner's, should not
 * go unnoticed.
 */
export function noticeSecondFactorChange(dependencies: AuthServiceDependencies, user: UserAccount, change: SecondFactorChange): void {
  if (user.email && user.emailVerifiedAt) dependencies.dispatcher.dispatch(secondFactorChangedMessage("email", user.email, change));
  else if (user.phoneNumber && user.phoneVerifiedAt)
    dependencies.dispatcher.dispatch(secondFactorChangedMessage("sms", user.phoneNumber, change));
}
