// How second factors say no. The caller (and so a guesser) sees one code and
// one message for every wrong answer, as the AuthService contract promises;
// the precise rejection travels on the error for the handler's audit event
// and metrics, never in the response.
import { Code } from "@connectrpc/connect";
import { DomainError, failedPrecondition } from "@trustmesh/runtime";

/** Why an answer was refused; audit events and metrics labels use these. */
export type SecondFactorRejection =
  /** The TOTP code matches no step in the window. */
  | "TOTP_CODE_INVALID"
  /** The TOTP code is right but its step is not newer than the last accepted one. */
  | "TOTP_CODE_REPLAYED"
  /** The account has no confirmed TOTP credential. */
  | "TOTP_NOT_ENABLED"
  /** The recovery code is not an unused code of the account. */
  | "RECOVERY_CODE_INVALID"
  /** The WebAuthn challenge is unknown: expired, used up, or never issued. */
  | "PASSKEY_CHALLENGE_UNKNOWN"
  /** The assertion names a credential that is not registered (to this account). */
  | "PASSKEY_UNKNOWN"
  /** Signature, challenge, origin, RP id or flags did not verify. */
  | "PASSKEY_VERIFICATION_FAILED"
  /**
   * The signature verified but the authenticator's counter did not move
   * forward: the credential's key may have been cloned. Audit it as such.
   */
  | "PASSKEY_COUNTER_REGRESSED";

/** The one message a wrong second factor gets, whatever was wrong. */
export const secondFactorRejectedMessage = "the second factor was not accepted";

/**
 * A refused TOTP code, recovery code or passkey assertion: UNAUTHENTICATED
 * with reason SECOND_FACTOR_REJECTED for the caller, and `rejection` for the
 * audit log.
 */
export class SecondFactorRejectedError extends DomainError {
  readonly rejection: SecondFactorRejection;
  /** The passkey the rejection is about, when one was identified (for the audit event). */
  readonly passkeyId: string | undefined;

  constructor(rejection: SecondFactorRejection, options: { passkeyId?: string; cause?: unknown } = {}) {
    super(Code.Unauthenticated, secondFactorRejectedMessage, { reason: "SECOND_FACTOR_REJECTED", cause: options.cause });
    this.name = "SecondFactorRejectedError";
    this.rejection = rejection;
    this.passkeyId = options.passkeyId;
  }
}

/**
 * A registration ceremony id that names no live registration (expired, used
 * up, unknown): a step out of order, so FAILED_PRECONDITION. Authentication
 * ceremonies answer SecondFactorRejectedError instead, like any wrong credential.
 */
export function registrationCeremonyUnknown(field: string): DomainError {
  return failedPrecondition(`${field}: no such registration ceremony, or it expired or was already used; begin again`, "CEREMONY_UNKNOWN");
}

/** A registration response that does not verify: bad input to FinishPasskeyRegistration. */
export function registrationRejected(cause?: unknown): DomainError {
  const description = "the passkey registration did not verify";
  return new DomainError(Code.InvalidArgument, `response_json: ${description}`, {
    reason: "PASSKEY_REGISTRATION_REJECTED",
    violations: [{ field: "response_json", description, reason: "PASSKEY_REGISTRATION_REJECTED" }],
    cause,
  });
}
