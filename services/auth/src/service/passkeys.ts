// The passkey RPCs: registering one for the signed-in caller, and signing in
// with one and nothing else. The WebAuthn ceremonies themselves (options,
// verification, single-use challenges, the signature counter) live in
// src/mfa/passkeys.ts; here are who may call, idempotent retries, the session
// a passkey sign-in opens, the audit trail and the metrics.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { AuthenticationMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import {
  type BeginPasskeyLoginResponseSchema,
  type BeginPasskeyRegistrationResponseSchema,
  type FinishPasskeyLoginRequest,
  type FinishPasskeyLoginResponseSchema,
  type FinishPasskeyRegistrationRequest,
  type FinishPasskeyRegistrationResponse,
  FinishPasskeyRegistrationResponseSchema,
} from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { DomainError, failedPrecondition } from "@trustmesh/runtime";
import { SecondFactorRejectedError } from "../mfa/errors.ts";
import type { PasskeyCeremony } from "../mfa/passkeys.ts";
import { callerAccount, clientOf, digest } from "./common.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";
import { recordAnswer, recordedAnswer, requestHashOf } from "./idempotency.ts";
import { accountName, checkSecondFactor, noticeSecondFactorChange } from "./second-factor-checks.ts";
import { hasVerifiedContact, openSession } from "./sign-in.ts";

const finishRegistrationMethod = "trustmesh.auth.v1.AuthService/FinishPasskeyRegistration";

function ceremonyAnswer(ceremony: PasskeyCeremony) {
  return { ceremonyId: ceremony.ceremonyId, optionsJson: ceremony.optionsJson, expiresAt: timestampFromDate(ceremony.expiresAt) };
}

export async function beginPasskeyRegistration(
  dependencies: AuthServiceDependencies,
  context: HandlerContext,
): Promise<MessageInitShape<typeof BeginPasskeyRegistrationResponseSchema>> {
  const { user, audit } = await callerAccount(dependencies, context);
  // Each ceremony is a Redis key until it expires: bounded per caller like the public ceremonies.
  await dependencies.rateLimits.consume(audit.ipAddress, [`passkey-registration:${user.id}`]);
  return ceremonyAnswer(
    await dependencies.mfa.passkeys.beginRegistration(user.id, { name: accountName(user), displayName: user.displayName }),
  );
}

/**
 * Verifies and stores the passkey. The ceremony's challenge is used up by the
 * first call whatever its outcome, so a retry after a lost answer could never
 * succeed on its own: the answer is kept in idempotency_record under the
 * caller's account and `idempotency_key`, and a retry with the same body gets
 * it back; the same key with another body is ALREADY_EXISTS.
 */
export async function finishPasskeyRegistration(
  dependencies: AuthServiceDependencies,
  request: FinishPasskeyRegistrationRequest,
  context: HandlerContext,
): Promise<FinishPasskeyRegistrationResponse> {
  const { store } = dependencies;
  const { user, audit } = await callerAccount(dependencies, context);
  const call = {
    // Keys are scoped by account, so one user's key never answers another user's retry.
    scope: user.id,
    key: request.idempotencyKey,
    method: finishRegistrationMethod,
    requestHash: requestHashOf([finishRegistrationMethod, request.ceremonyId, request.responseJson, request.name]),
  };
  const recorded = () =>
    recordedAnswer(store, FinishPasskeyRegistrationResponseSchema, call, "idempotency_key was used for another request");
  const previous = await recorded();
  if (previous) return previous;

  let passkey: FinishPasskeyRegistrationResponse["passkey"];
  try {
    passkey = await dependencies.mfa.passkeys.finishRegistration(user.id, request);
  } catch (error) {
    // A retry that overtook the first call finds the ceremony used up; if the first has finished since, its answer stands.
    if (error instanceof DomainError && error.reason === "CEREMONY_UNKNOWN") {
      const answer = await recorded();
      if (answer) return answer;
    }
    throw error;
  }
  const response = create(FinishPasskeyRegistrationResponseSchema, { passkey });
  await recordAnswer(store, FinishPasskeyRegistrationResponseSchema, call, response);
  await store.audit({ ...audit, kind: "passkey_registered", detail: { passkey_id: passkey?.id ?? "" } });
  noticeSecondFactorChange(dependencies, user, "a passkey was added");
  return response;
}

export async function beginPasskeyLogin(
  dependencies: AuthServiceDependencies,
  context: HandlerContext,
): Promise<MessageInitShape<typeof BeginPasskeyLoginResponseSchema>> {
  await dependencies.rateLimits.consume(clientOf(dependencies, context).ipAddress, []);
  return ceremonyAnswer(await dependencies.mfa.passkeys.beginLogin());
}

/**
 * A sign-in with a passkey alone: the assertion with user verification is two
 * factors by itself (something held, and a PIN or biometric), so no MFA
 * challenge follows, and the session's `amr` is hwk + user (+ mfa). The
 * password lockout does not apply: it guards a guessable secret, and refusing
 * the owner's unguessable passkey would let anyone who knows the address lock
 * the owner out of every way in.
 */
export async function finishPasskeyLogin(
  dependencies: AuthServiceDependencies,
  request: FinishPasskeyLoginRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof FinishPasskeyLoginResponseSchema>> {
  const { store, metrics, config } = dependencies;
  const client = clientOf(dependencies, context);
  await dependencies.rateLimits.consume(client.ipAddress, [`passkey-login:${digest(request.ceremonyId)}`]).catch((error: unknown) => {
    metrics.logins.inc({ outcome: "rate_limited" });
    throw error;
  });
  const audit = { ipAddress: client.ipAddress, userAgent: client.userAgent };
  const { userId, passkey } = await checkSecondFactor(dependencies, { method: "passkey", during: "passkey_login", audit }, () =>
    dependencies.mfa.passkeys.finishLogin(request),
  ).catch((error: unknown) => {
    if (error instanceof SecondFactorRejectedError) metrics.logins.inc({ outcome: "wrong_credentials" });
    throw error;
  });
  const user = await store.findUserById(userId);
  // The passkey rows go with their account (ON DELETE CASCADE), so this is an account deleted mid-ceremony.
  if (!user) throw new SecondFactorRejectedError("PASSKEY_UNKNOWN");
  if (config.AUTH_REQUIRE_VERIFIED_CONTACT && !hasVerifiedContact(user)) {
    metrics.logins.inc({ outcome: "unverified" });
    await store.audit({ ...audit, kind: "login_refused_unverified", userId: user.id });
    throw failedPrecondition("verify your email address or phone number before signing in", "CONTACT_NOT_VERIFIED");
  }
  const tokens = await openSession(dependencies, user, [AuthenticationMethod.PASSKEY], client, request.deviceName);
  await store.audit({
    ...audit,
    kind: "login_succeeded",
    userId: user.id,
    sessionId: tokens.sessionId,
    detail: { method: "passkey", passkey_id: passkey.id },
  });
  metrics.logins.inc({ outcome: "success" });
  return { tokens };
}
