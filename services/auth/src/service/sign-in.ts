// Login, CompleteMfa and RefreshTokens: the ways to get tokens, and the
// session every sign-in opens.
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type { TokensSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { AuthenticationMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import type {
  CompleteMfaRequest,
  CompleteMfaResponseSchema,
  LoginRequest,
  LoginResponseSchema,
  RefreshTokensRequest,
  RefreshTokensResponseSchema,
} from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { failedPrecondition, unauthenticated } from "@trustmesh/runtime";
import type { MfaMethodLabel } from "../auth-metrics.ts";
import type { ClientInfo } from "../client-address.ts";
import { contactOf } from "../contacts.ts";
import { answerFromProof } from "../mfa/second-factors.ts";
import type { UserAccount } from "../store.ts";
import { opaqueToken, tokenHash } from "../tokens.ts";
import { clientOf, digest, passwordAttempt, wrongCredentials } from "./common.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";
import { checkSecondFactor } from "./second-factor-checks.ts";

type Tokens = MessageInitShape<typeof TokensSchema>;

export function methodNames(methods: readonly AuthenticationMethod[]): string[] {
  return methods.map((method) => AuthenticationMethod[method]);
}

export function methodsFromNames(names: readonly string[]): AuthenticationMethod[] {
  return names.flatMap((name) => {
    const value = AuthenticationMethod[name as keyof typeof AuthenticationMethod];
    return value === undefined ? [] : [value];
  });
}

/** Opens a session with its first refresh token and signs its first access token. */
export async function openSession(
  dependencies: AuthServiceDependencies,
  user: UserAccount,
  methods: readonly AuthenticationMethod[],
  client: ClientInfo,
  deviceName: string,
): Promise<Tokens> {
  const { config, store, signer } = dependencies;
  const now = Date.now();
  const sessionId = randomUUID();
  const refreshToken = opaqueToken();
  const expiresAt = new Date(now + config.AUTH_SESSION_LIFETIME_SECONDS * 1000);
  const refreshTokenExpiresAt = new Date(Math.min(now + config.AUTH_REFRESH_TOKEN_IDLE_SECONDS * 1000, expiresAt.getTime()));
  await store.createSession({
    id: sessionId,
    userId: user.id,
    deviceName,
    userAgent: client.userAgent,
    ipAddress: client.ipAddress,
    authenticationMethods: methodNames(methods),
    expiresAt,
    refreshTokenHash: tokenHash(refreshToken),
    refreshTokenExpiresAt,
  });
  const access = await signer.signAccessToken({ userId: user.id, sessionId, roles: user.roles, methods });
  return tokensOf(access, refreshToken, refreshTokenExpiresAt, sessionId);
}

/** The Tokens message for a signed access token and the session's current refresh token. */
function tokensOf(
  access: { token: string; expiresAt: Date },
  refreshToken: string,
  refreshTokenExpiresAt: Date,
  sessionId: string,
): Tokens {
  return {
    accessToken: access.token,
    accessTokenExpiresAt: timestampFromDate(access.expiresAt),
    refreshToken,
    refreshTokenExpiresAt: timestampFromDate(refreshTokenExpiresAt),
    tokenType: "Bearer",
    sessionId,
  };
}

export function hasVerifiedContact(user: UserAccount): boolean {
  return user.emailVerifiedAt !== null || user.phoneVerifiedAt !== null;
}

export async function login(
  dependencies: AuthServiceDependencies,
  request: LoginRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof LoginResponseSchema>> {
  const { store, passwords, metrics, config } = dependencies;
  const client = clientOf(dependencies, context);
  const { channel, field, contact } = contactOf(request.identifier);
  await dependencies.rateLimits.consume(client.ipAddress, [`login:${contact}`]).catch((error: unknown) => {
    metrics.logins.inc({ outcome: "rate_limited" });
    throw error;
  });
  const user = await store.findUserByContact(field, contact);
  // Unknown identifiers lock like accounts do, so lockout tells nothing about who exists.
  const subject = user ? `user:${user.id}` : `unknown:${digest(contact)}`;
  const matched = await passwordAttempt(dependencies, {
    subject,
    verify: () =>
      user ? passwords.verify(user.passwordHash, request.password) : passwords.verifyNothing(request.password).then(() => false),
    audit: { userId: user?.id ?? null, ipAddress: client.ipAddress, userAgent: client.userAgent, detail: { identifier: channel } },
    onLocked: () => metrics.logins.inc({ outcome: "locked" }),
  });
  if (!user || !matched) {
    metrics.logins.inc({ outcome: "wrong_credentials" });
    throw wrongCredentials();
  }
  if (passwords.needsRehash(user.passwordHash)) {
    // The password is at hand only now, so this is when old hashes move to the configured parameters.
    await store.setPasswordHash(user.id, await passwords.hash(request.password), false);
    await store.audit({ kind: "password_rehashed", userId: user.id, ipAddress: client.ipAddress, userAgent: client.userAgent });
  }
  if (config.AUTH_REQUIRE_VERIFIED_CONTACT && !hasVerifiedContact(user)) {
    metrics.logins.inc({ outcome: "unverified" });
    await store.audit({ kind: "login_refused_unverified", userId: user.id, ipAddress: client.ipAddress, userAgent: client.userAgent });
    throw failedPrecondition("verify your email address or phone number before signing in", "CONTACT_NOT_VERIFIED");
  }
  // The second factors see the challenge id, never the mfa token: a passkey
  // ceremony for this sign-in is kept under it, so only its CompleteMfa can finish it.
  const attempt = dependencies.mfaChallenges.create();
  const challenge = await dependencies.mfa.secondFactors.challengeFor(user.id, attempt.challengeId);
  if (challenge.methods.length > 0) {
    const expiresAt = await dependencies.mfaChallenges.issue(attempt.challengeId, {
      userId: user.id,
      deviceName: request.deviceName,
      ipAddress: client.ipAddress,
      userAgent: client.userAgent,
    });
    await store.audit({ kind: "mfa_challenge_issued", userId: user.id, ipAddress: client.ipAddress, userAgent: client.userAgent });
    metrics.logins.inc({ outcome: "mfa_required" });
    return {
      result: {
        case: "mfaChallenge",
        value: {
          mfaToken: attempt.mfaToken,
          expiresAt: timestampFromDate(expiresAt),
          methods: challenge.methods,
          passkeyOptionsJson: challenge.passkeyOptionsJson,
        },
      },
    };
  }
  const tokens = await openSession(dependencies, user, [AuthenticationMethod.PASSWORD], client, request.deviceName);
  await store.audit({
    kind: "login_succeeded",
    userId: user.id,
    sessionId: tokens.sessionId,
    ipAddress: client.ipAddress,
    userAgent: client.userAgent,
  });
  metrics.logins.inc({ outcome: "success" });
  return { result: { case: "tokens", value: tokens } };
}

const proofMethodLabel: Record<NonNullable<CompleteMfaRequest["proof"]["case"]>, MfaMethodLabel> = {
  totpCode: "totp",
  recoveryCode: "recovery_code",
  passkeyResponseJson: "passkey",
};

export async function completeMfa(
  dependencies: AuthServiceDependencies,
  request: CompleteMfaRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof CompleteMfaResponseSchema>> {
  const { store, metrics } = dependencies;
  const client = clientOf(dependencies, context);
  await dependencies.rateLimits.consume(client.ipAddress, [`mfa:${digest(request.mfaToken)}`]);
  // protovalidate has already required a proof; answerFromProof says so again for the type checker.
  const answer = answerFromProof(request.proof);
  const method = proofMethodLabel[request.proof.case as keyof typeof proofMethodLabel];
  const found = await dependencies.mfaChallenges.attempt(request.mfaToken);
  if (!found) {
    metrics.mfa.inc({ method, outcome: "invalid_token" });
    throw unauthenticated("mfa_token is unknown, expired or out of attempts; sign in again", "MFA_TOKEN_INVALID");
  }
  const { pending, challengeId } = found;
  const audit = { userId: pending.userId, ipAddress: client.ipAddress, userAgent: client.userAgent };
  const verified = await checkSecondFactor(dependencies, { method, during: "complete_mfa", audit }, () =>
    dependencies.mfa.secondFactors.verifyChallengeAnswer(pending.userId, answer, challengeId),
  );
  // Only the caller that ends the challenge may finish it: a parallel right answer gets nothing.
  const user = (await dependencies.mfaChallenges.consume(challengeId)) ? await store.findUserById(pending.userId) : null;
  if (!user) throw unauthenticated("mfa_token is unknown, expired or out of attempts; sign in again", "MFA_TOKEN_INVALID");
  const tokens = await openSession(
    dependencies,
    user,
    [AuthenticationMethod.PASSWORD, verified.authenticationMethod],
    { ipAddress: pending.ipAddress, userAgent: pending.userAgent },
    pending.deviceName,
  );
  const detail = { method, ...(verified.passkeyId ? { passkey_id: verified.passkeyId } : {}) };
  await store.audit({ ...audit, kind: "mfa_succeeded", sessionId: tokens.sessionId, detail });
  await store.audit({ ...audit, kind: "login_succeeded", sessionId: tokens.sessionId, detail: { second_factor: method } });
  metrics.logins.inc({ outcome: "success" });
  return { tokens };
}

export async function refreshTokens(
  dependencies: AuthServiceDependencies,
  request: RefreshTokensRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof RefreshTokensResponseSchema>> {
  const { store, metrics, signer, config } = dependencies;
  const client = clientOf(dependencies, context);
  await dependencies.rateLimits.consume(client.ipAddress, []);
  const nextToken = opaqueToken();
  const result = await store.rotateRefreshToken({
    tokenHash: tokenHash(request.refreshToken),
    nextTokenHash: tokenHash(nextToken),
    idleMs: config.AUTH_REFRESH_TOKEN_IDLE_SECONDS * 1000,
    ipAddress: client.ipAddress,
    userAgent: client.userAgent,
  });
  if (result.kind === "reused") {
    await dependencies.sessions.markRevoked([result.session.id]);
    metrics.refreshes.inc({ outcome: "reused" });
    metrics.reuseDetections.inc();
    throw unauthenticated("this refresh token was already used; the session has been ended", "REFRESH_TOKEN_REUSED");
  }
  if (result.kind === "invalid") {
    metrics.refreshes.inc({ outcome: "invalid" });
    throw unauthenticated("the refresh token is unknown, expired or revoked", "REFRESH_TOKEN_INVALID");
  }
  const { session, user } = result;
  const access = await signer.signAccessToken({
    userId: user.id,
    sessionId: session.id,
    roles: user.roles,
    methods: methodsFromNames(session.authenticationMethods),
  });
  metrics.refreshes.inc({ outcome: "rotated" });
  return { tokens: tokensOf(access, nextToken, result.refreshTokenExpiresAt, session.id) };
}
