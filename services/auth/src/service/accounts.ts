// SignUp, GetMe, ChangePassword and the password reset: the account itself.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type ChangePasswordRequest,
  type ChangePasswordResponseSchema,
  type CompletePasswordResetRequest,
  type CompletePasswordResetResponseSchema,
  type GetMeResponseSchema,
  type SignUpRequest,
  SignUpResponseSchema,
  type StartPasswordResetRequest,
  type StartPasswordResetResponseSchema,
} from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { unauthenticated } from "@trustmesh/runtime";
import { contactOf, normalizeEmail, normalizePhoneNumber } from "../contacts.ts";
import { accountExistsMessage, passwordChangedMessage, passwordResetCodeMessage, verificationCodeMessage } from "../messages.ts";
import { checkPasswordPolicy } from "../passwords.ts";
import type { ContactField, UserAccount } from "../store.ts";
import { callerAccount, clientOf, passwordAttempt, requireSession, sendCode, sessionEnded, throttled, wrongCode } from "./common.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";
import { recordAnswer, recordedAnswer, requestHashOf } from "./idempotency.ts";
import { toSession } from "./sessions.ts";

export async function signUp(
  dependencies: AuthServiceDependencies,
  request: SignUpRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof SignUpResponseSchema>> {
  const { store, config, passwords } = dependencies;
  // Everything about the request alone is checked first, so its errors reveal nothing about accounts.
  const email = request.email === "" ? null : normalizeEmail(request.email);
  const phoneNumber = request.phoneNumber === "" ? null : normalizePhoneNumber("phone_number", request.phoneNumber);
  checkPasswordPolicy("password", request.password, [email ?? "", phoneNumber ?? ""], config.AUTH_PASSWORD_MIN_LENGTH);
  const client = clientOf(dependencies, context);
  await dependencies.rateLimits.consume(
    client.ipAddress,
    [email, phoneNumber].filter((contact) => contact !== null).map((contact) => `signup:${contact}`),
  );

  const call = {
    scope: "sign-up",
    key: request.idempotencyKey,
    method: "trustmesh.auth.v1.AuthService/SignUp",
    // The password is left out of the request hash: the record must not hold a fast hash of it.
    requestHash: requestHashOf([email, phoneNumber, request.displayName]),
  };
  const previous = await recordedAnswer(store, SignUpResponseSchema, call, "idempotency_key was used for another sign-up");
  if (previous) return previous;

  // Hashed before the lookup, so a new and an existing contact cost the same time.
  const passwordHash = await passwords.hash(request.password);
  const user = await store.createUser({
    email,
    phoneNumber,
    displayName: request.displayName,
    passwordHash,
    audit: { kind: "sign_up", ipAddress: client.ipAddress, userAgent: client.userAgent },
  });
  const contacts = [
    ...(email ? [{ field: "email" as ContactField, channel: "email" as const, contact: email }] : []),
    ...(phoneNumber ? [{ field: "phoneNumber" as ContactField, channel: "sms" as const, contact: phoneNumber }] : []),
  ];
  const answers = [];
  for (const target of contacts) {
    answers.push(
      // A new account's contact gets a code; an existing one's owner a notice, throttled on its own
      // so a recent code does not swallow it.
      await throttled(dependencies, user ? "contact" : "notice", target.contact, async () => {
        if (user) {
          await sendCode(
            dependencies,
            { flow: "contact", channel: target.channel, contact: target.contact, purpose: "confirm", userId: user.id },
            (code) => verificationCodeMessage(target.channel, target.contact, code, config.AUTH_CODE_TTL_SECONDS),
          );
          return;
        }
        const owner = await store.findUserByContact(target.field, target.contact);
        if (!owner) return;
        await store.audit({ kind: "sign_up_existing_contact", userId: owner.id, ipAddress: client.ipAddress, userAgent: client.userAgent });
        dependencies.dispatcher.dispatch(accountExistsMessage(target.channel, target.contact));
      }),
    );
  }
  const response = answers[0] ?? {};
  await recordAnswer(store, SignUpResponseSchema, call, create(SignUpResponseSchema, response));
  return response;
}

function toUser(user: UserAccount) {
  return {
    id: user.id,
    email: user.email ?? "",
    emailVerified: user.emailVerifiedAt !== null,
    phoneNumber: user.phoneNumber ?? "",
    phoneVerified: user.phoneVerifiedAt !== null,
    pendingEmail: user.pendingEmail ?? "",
    pendingPhoneNumber: user.pendingPhoneNumber ?? "",
    displayName: user.displayName,
    roles: user.roles,
    createdAt: timestampFromDate(user.createdAt),
    passwordChangedAt: timestampFromDate(user.passwordChangedAt),
  };
}

export async function getMe(
  dependencies: AuthServiceDependencies,
  context: HandlerContext,
): Promise<MessageInitShape<typeof GetMeResponseSchema>> {
  const { userId, sessionId } = await requireSession(dependencies, context);
  // Every passkey is listed: an account has at most AUTH_PASSKEYS_PER_USER_MAX.
  const [user, session, { mfa, passkeys }] = await Promise.all([
    dependencies.store.findUserById(userId),
    dependencies.store.findSession(sessionId),
    dependencies.mfa.secondFactors.summaryFor(userId),
  ]);
  if (!user || !session) throw sessionEnded();
  return { user: { ...toUser(user), mfa }, passkeys, session: toSession(session, sessionId) };
}

export async function changePassword(
  dependencies: AuthServiceDependencies,
  request: ChangePasswordRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof ChangePasswordResponseSchema>> {
  const { store, passwords, config } = dependencies;
  const { user, audit } = await callerAccount(dependencies, context);
  const { userId, sessionId } = audit;
  checkPasswordPolicy("new_password", request.newPassword, [user.email ?? "", user.phoneNumber ?? ""], config.AUTH_PASSWORD_MIN_LENGTH);
  // A stolen access token must not become a way to guess the password without limit.
  const matched = await passwordAttempt(dependencies, {
    subject: `user:${userId}`,
    verify: () => passwords.verify(user.passwordHash, request.currentPassword),
    audit: { ...audit, detail: { during: "change_password" } },
  });
  if (!matched) throw unauthenticated("current_password is wrong", "INVALID_CREDENTIALS");
  await store.setPasswordHash(userId, await passwords.hash(request.newPassword), true);
  await store.audit({ ...audit, kind: "password_changed" });
  let revoked: string[] = [];
  if (!request.keepOtherSessions) {
    revoked = await store.revokeSessions({ userId, except: sessionId, reason: "password_changed", audit });
    await dependencies.sessions.markRevoked(revoked);
  }
  if (user.email && user.emailVerifiedAt) dependencies.dispatcher.dispatch(passwordChangedMessage("email", user.email));
  return { revokedSessionCount: revoked.length };
}

export async function startPasswordReset(
  dependencies: AuthServiceDependencies,
  request: StartPasswordResetRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof StartPasswordResetResponseSchema>> {
  const { store, config } = dependencies;
  const { field, delivery, contact } = contactOf(request.identifier);
  const client = clientOf(dependencies, context);
  await dependencies.rateLimits.consume(client.ipAddress, [`reset:${contact}`]);
  return throttled(dependencies, "password_reset", contact, async () => {
    const user = await store.findUserByContact(field, contact);
    if (!user) return;
    // Sent to unverified contacts too: proving control of the contact is the point,
    // and otherwise an unverified sign-up could squat an address its owner can never reclaim.
    await sendCode(dependencies, { flow: "password_reset", channel: delivery, contact, purpose: "reset", userId: user.id }, (code) =>
      passwordResetCodeMessage(delivery, contact, code, config.AUTH_CODE_TTL_SECONDS),
    );
    await store.audit({ kind: "password_reset_requested", userId: user.id, ipAddress: client.ipAddress, userAgent: client.userAgent });
  });
}

export async function completePasswordReset(
  dependencies: AuthServiceDependencies,
  request: CompletePasswordResetRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof CompletePasswordResetResponseSchema>> {
  const { store, config, codes, passwords } = dependencies;
  const { field, delivery, contact } = contactOf(request.identifier);
  checkPasswordPolicy("new_password", request.newPassword, [contact], config.AUTH_PASSWORD_MIN_LENGTH);
  const client = clientOf(dependencies, context);
  await dependencies.rateLimits.consume(client.ipAddress, [`reset:${contact}`]);
  const passwordHash = await passwords.hash(request.newPassword);
  const result = await store.useCode({
    flow: "password_reset",
    contact,
    attemptsMax: config.AUTH_CODE_ATTEMPTS_MAX,
    matches: (stored) => codes.matches(stored.codeHash, "password_reset", contact, request.code),
    onMatch: async (stored, transaction) => ({
      userId: stored.userId,
      revoked: await store.resetPassword(transaction, {
        userId: stored.userId,
        field,
        passwordHash,
        audit: { kind: "password_reset_completed", userId: stored.userId, ipAddress: client.ipAddress, userAgent: client.userAgent },
      }),
    }),
  });
  if (result.kind !== "matched") throw wrongCode();
  await dependencies.sessions.markRevoked(result.value.revoked);
  // Proving control of the contact also lifts a lockout.
  await dependencies.lockout.succeed(`user:${result.value.userId}`);
  dependencies.metrics.codesConfirmed.inc({ channel: delivery, flow: "password_reset" });
  return {};
}
