// SetupTotp, ConfirmTotp and DisableTotp: the caller's authenticator app. The
// TOTP and recovery-code rules (window, replay, sealing, attempt budget) live
// in src/mfa; here are who may call, the audit trail, the metrics and the
// notice to the account's owner.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type {
  ConfirmTotpRequest,
  ConfirmTotpResponseSchema,
  DisableTotpRequest,
  DisableTotpResponseSchema,
  SetupTotpResponseSchema,
} from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { invalidArgument } from "@trustmesh/runtime";
import { callerAccount } from "./common.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";
import { accountName, checkSecondFactor, noticeSecondFactorChange } from "./second-factor-checks.ts";

export async function setupTotp(
  dependencies: AuthServiceDependencies,
  context: HandlerContext,
): Promise<MessageInitShape<typeof SetupTotpResponseSchema>> {
  const { user, audit } = await callerAccount(dependencies, context);
  await dependencies.rateLimits.consume(audit.ipAddress, [`totp-setup:${user.id}`]);
  const setup = await dependencies.mfa.totp.setup(user.id, accountName(user));
  return { secret: setup.secret, otpauthUri: setup.otpauthUri, expiresAt: timestampFromDate(setup.expiresAt) };
}

export async function confirmTotp(
  dependencies: AuthServiceDependencies,
  request: ConfirmTotpRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof ConfirmTotpResponseSchema>> {
  const { user, audit } = await callerAccount(dependencies, context);
  const { recoveryCodes } = await checkSecondFactor(dependencies, { method: "totp", during: "confirm_totp", audit }, () =>
    dependencies.mfa.totp.confirm(user.id, request.code),
  );
  await dependencies.store.audit({ ...audit, kind: "totp_enabled", detail: { recovery_codes: recoveryCodes.length } });
  noticeSecondFactorChange(dependencies, user, "TOTP was turned on");
  return { recoveryCodes };
}

export async function disableTotp(
  dependencies: AuthServiceDependencies,
  request: DisableTotpRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof DisableTotpResponseSchema>> {
  const { user, audit } = await callerAccount(dependencies, context);
  const proof = request.proof;
  // protovalidate has already required one of the two.
  if (proof.case === undefined) throw invalidArgument("proof", "a TOTP code or a recovery code is required");
  const method = proof.case === "totpCode" ? "totp" : "recovery_code";
  await checkSecondFactor(dependencies, { method, during: "disable_totp", audit }, () => dependencies.mfa.totp.disable(user.id, proof));
  await dependencies.store.audit({ ...audit, kind: "totp_disabled", detail: { proof: method } });
  noticeSecondFactorChange(dependencies, user, "TOTP was turned off");
  return { mfa: (await dependencies.mfa.secondFactors.summaryFor(user.id)).mfa };
}
