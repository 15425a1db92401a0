// Pieces every group of handlers uses: the caller's live session, the
// caller's address, throttled code sending, and timestamps.
import { createHash } from "node:crypto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { principalOf, resourceExhausted, unauthenticated } from "@trustmesh/runtime";
import { type ClientInfo, clientInfoOf } from "../client-address.ts";
import type { AuditRecord } from "../store.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";

/** The signed-in caller, after checking at auth that the session is still alive. */
export async function requireSession(
  dependencies: AuthServiceDependencies,
  context: HandlerContext,
): Promise<{ userId: string; sessionId: string }> {
  const principal = principalOf(context);
  if (principal?.kind !== "user" || !principal.sessionId) throw unauthenticated("a user access token is required");
  if (!(await dependencies.sessions.isActive(principal.sessionId, principal.userId))) {
    throw sessionEnded();
  }
  return { userId: principal.userId, sessionId: principal.sessionId };
}

/** The signed-in caller's account and what their audit events carry. */
export async function callerAccount(dependencies: AuthServiceDependencies, context: HandlerContext) {
  const { userId, sessionId } = await requireSession(dependencies, context);
  const user = await dependencies.store.findUserById(userId);
  if (!user) throw sessionEnded();
  const client = clientOf(dependencies, context);
  return { user, audit: { userId, sessionId, ipAddress: client.ipAddress, userAgent: client.userAgent } };
}

export function clientOf(dependencies: AuthServiceDependencies, context: HandlerContext): ClientInfo {
  return clientInfoOf(context, dependencies.trustedProxies);
}

/** Whole seconds, so answers made within the same second are byte-identical whatever happened behind them. */
export function secondsTimestamp(ms: number) {
  return timestampFromMs(Math.floor(ms / 1000) * 1000);
}

export function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

export type CodeFlow = "contact" | "password_reset";
/** Throttled like code flows; "notice" is the "someone signed up with your address" message. */
export type ThrottledFlow = CodeFlow | "notice";

/**
 * Runs `send` at most once per resend interval for a flow and contact,
 * whether or not an account has the contact, and returns the times the
 * answer shows. The times depend on the clock alone — never on whether a code
 * was sent, throttled, or had no account to go to — so answers for known and
 * unknown contacts cannot be told apart. For a throttled request they are
 * conservative: the next resend is possible no later than resend_available_at.
 */
export async function throttled(
  dependencies: AuthServiceDependencies,
  flow: ThrottledFlow,
  contact: string,
  send: () => Promise<void>,
): Promise<{ codeExpiresAt: ReturnType<typeof secondsTimestamp>; resendAvailableAt: ReturnType<typeof secondsTimestamp> }> {
  const { config, redis } = dependencies;
  const key = `resend:{${flow}:${digest(contact)}}`;
  const now = Date.now();
  const fresh = await redis.set(key, "1", "PX", config.AUTH_CODE_RESEND_SECONDS * 1000, "NX");
  if (fresh === "OK") await send();
  return {
    codeExpiresAt: secondsTimestamp(now + config.AUTH_CODE_TTL_SECONDS * 1000),
    resendAvailableAt: secondsTimestamp(now + config.AUTH_CODE_RESEND_SECONDS * 1000),
  };
}

/** Stores a fresh code for the contact and hands the message carrying it to the notifier. */
export async function sendCode(
  dependencies: AuthServiceDependencies,
  input: { flow: CodeFlow; channel: "email" | "sms"; contact: string; purpose: string; userId: string },
  message: (code: string) => import("../notifier.ts").Notification,
): Promise<void> {
  const code = dependencies.codes.generate();
  await dependencies.store.saveCode({
    flow: input.flow,
    contact: input.contact,
    purpose: input.purpose,
    userId: input.userId,
    codeHash: dependencies.codes.hash(input.flow, input.contact, code),
    expiresAt: new Date(Date.now() + dependencies.config.AUTH_CODE_TTL_SECONDS * 1000),
  });
  dependencies.metrics.codesSent.inc({ channel: input.channel, flow: input.flow });
  dependencies.dispatcher.dispatch(message(code));
}

/**
 * Checks a password under the lockout: reserves the attempt first (refusing
 * with ACCOUNT_LOCKED when none is left), then runs `verify`; a failure is
 * counted, audited, and locks the subject when it was the last allowed one.
 */
export async function passwordAttempt(
  dependencies: AuthServiceDependencies,
  input: { subject: string; verify: () => Promise<boolean>; audit: Omit<AuditRecord, "kind">; onLocked?: () => void },
): Promise<boolean> {
  const { lockout, store, metrics } = dependencies;
  const reservation = await lockout.reserve(input.subject);
  if (!reservation.allowed) {
    input.onLocked?.();
    throw resourceExhausted("too many failed attempts; the account is locked for a while", "ACCOUNT_LOCKED", reservation.retryAfterMs);
  }
  if (await input.verify()) {
    await lockout.succeed(input.subject);
    return true;
  }
  const lockedMs = await lockout.fail(input.subject, reservation.attempt);
  await store.audit({ ...input.audit, kind: "login_failed", detail: { ...input.audit.detail, attempt: reservation.attempt } });
  if (lockedMs !== undefined) {
    metrics.lockouts.inc();
    await store.audit({ ...input.audit, kind: "account_locked", detail: { ...input.audit.detail, locked_ms: lockedMs } });
  }
  return false;
}

/** One message for every wrong credential, so the answer never tells which part was wrong. */
export function wrongCredentials() {
  return unauthenticated("the identifier or password is wrong", "INVALID_CREDENTIALS");
}

/** The answer for a token whose session (or account) is gone, wherever that is found out. */
export function sessionEnded() {
  return unauthenticated("the session has ended; sign in again", "SESSION_ENDED");
}

export function wrongCode() {
  return unauthenticated("the code is wrong or has expired", "INVALID_CODE");
}
