// Goal: every account RPC with good and bad input against the real process:
// SignUp (policy, phone numbers, idempotency), Login, GetMe, ChangePassword
// (ends other sessions), StartPasswordReset / CompletePasswordReset (ends
// every session, voids the code after too many wrong tries).
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import {
  type AuthHarness,
  bearer,
  goodPassword,
  rejectsWith,
  relaxedLimits,
  signedInUser,
  uniqueEmail,
  useAuth,
} from "./support/auth-harness.ts";

describe("auth: accounts", function () {
  this.timeout(120_000);
  const auth = useAuth({ ...relaxedLimits, AUTH_CODE_ATTEMPTS_MAX: "3" });

  const accounts = async () => Number((await auth.database.query("SELECT count(*) FROM user_account")).rows[0]?.count);

  it("SignUp: refuses bad contacts and passwords that break the policy, creating nothing", async () => {
    const before = await accounts();
    const email = uniqueEmail("policy");
    const cases: [Parameters<AuthHarness["client"]["signUp"]>[0], string | undefined][] = [
      [{ email: "not-an-email", password: goodPassword, idempotencyKey: "p1" }, undefined],
      [{ password: goodPassword, idempotencyKey: "p2" }, undefined],
      [{ email, password: "1234567890", idempotencyKey: "p3" }, "PASSWORD_TOO_COMMON"],
      [{ email, password: "short", idempotencyKey: "p4" }, undefined],
      [{ email, password: "ninechars", idempotencyKey: "p5" }, "PASSWORD_TOO_SHORT"],
      [{ email, password: email.split("@")[0] as string, idempotencyKey: "p6" }, "PASSWORD_IS_CONTACT"],
      [{ phoneNumber: "+99912345678", password: goodPassword, idempotencyKey: "p7" }, "INVALID_PHONE_NUMBER"],
      [{ email, password: goodPassword, idempotencyKey: "has space" }, undefined],
    ];
    for (const [request, reason] of cases) {
      const error = await rejectsWith(auth.client.signUp(request), Code.InvalidArgument, reason);
      assert.ok(error.rawMessage.length > 0);
    }
    assert.equal(await accounts(), before);
  });

  it("SignUp: a retry with the same key answers as the first and sends nothing more; another body with it is refused", async () => {
    const email = uniqueEmail("retry");
    const first = await auth.client.signUp({ email, password: goodPassword, idempotencyKey: "retry-key-1" });
    await auth.codeFor(email);
    const again = await auth.client.signUp({ email, password: goodPassword, idempotencyKey: "retry-key-1" });
    assert.deepEqual(again, first);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      (await auth.messagesFor(email)).map((message) => message.kind),
      ["verification_code"],
    );
    await rejectsWith(
      auth.client.signUp({ email: uniqueEmail("other"), password: goodPassword, idempotencyKey: "retry-key-1" }),
      Code.AlreadyExists,
      "IDEMPOTENCY_KEY_REUSED",
    );
  });

  it("SignUp and Login by phone number: the SMS code verifies it, and the number signs in", async () => {
    const phoneNumber = "+4915112345678";
    await auth.client.signUp({ phoneNumber, password: goodPassword, idempotencyKey: "phone-1" });
    const message = (await auth.messagesFor(phoneNumber))[0];
    assert.equal(message?.channel, "sms");
    const verified = await auth.client.completePhoneVerification({ phoneNumber, code: await auth.codeFor(phoneNumber) });
    assert.ok(verified.verifiedAt);
    const login = await auth.client.login({ identifier: { case: "phoneNumber", value: phoneNumber }, password: goodPassword });
    assert.equal(login.result.case, "tokens");
    const me = await auth.client.getMe({}, bearer(login.result.value.accessToken));
    assert.deepEqual([me.user?.phoneNumber, me.user?.phoneVerified, me.user?.email], [phoneNumber, true, ""]);
  });

  it("Login: a wrong password and an unknown account get the same error; bad input is INVALID_ARGUMENT", async () => {
    const { email } = await signedInUser(auth);
    const wrong = await rejectsWith(
      auth.client.login({ identifier: { case: "email", value: email }, password: "not the password" }),
      Code.Unauthenticated,
      "INVALID_CREDENTIALS",
    );
    const unknown = await rejectsWith(
      auth.client.login({ identifier: { case: "email", value: uniqueEmail("none") }, password: "not the password" }),
      Code.Unauthenticated,
      "INVALID_CREDENTIALS",
    );
    assert.equal(wrong.rawMessage, unknown.rawMessage);
    await rejectsWith(auth.client.login({ password: goodPassword }), Code.InvalidArgument);
    await rejectsWith(auth.client.login({ identifier: { case: "email", value: email }, password: "" }), Code.InvalidArgument);
    await rejectsWith(
      auth.client.login({ identifier: { case: "email", value: email }, password: goodPassword, deviceName: "bad\nname" }),
      Code.InvalidArgument,
    );
  });

  it("GetMe: shows the caller's account and session; refuses a call without a token", async () => {
    const { email, tokens } = await signedInUser(auth);
    const me = await auth.client.getMe({}, bearer(tokens.accessToken));
    assert.equal(me.user?.email, email);
    assert.deepEqual(me.user?.roles, []);
    assert.equal(me.session?.id, tokens.sessionId);
    assert.deepEqual(me.passkeys, []);
    await rejectsWith(auth.client.getMe({}), Code.Unauthenticated);
    await rejectsWith(auth.client.getMe({}, bearer("not.a.token")), Code.Unauthenticated);
  });

  it("ChangePassword: needs the current password, ends the other sessions, and the new password signs in", async () => {
    const { email, password, tokens } = await signedInUser(auth);
    const other = await auth.client.login({ identifier: { case: "email", value: email }, password });
    assert.equal(other.result.case, "tokens");
    await rejectsWith(
      auth.client.changePassword({ currentPassword: "not it at all", newPassword: "a brand new passphrase" }, bearer(tokens.accessToken)),
      Code.Unauthenticated,
      "INVALID_CREDENTIALS",
    );
    await rejectsWith(
      auth.client.changePassword({ currentPassword: password, newPassword: "qwertyuiop" }, bearer(tokens.accessToken)),
      Code.InvalidArgument,
      "PASSWORD_TOO_COMMON",
    );
    await rejectsWith(
      auth.client.changePassword({ currentPassword: password, newPassword: password }, bearer(tokens.accessToken)),
      Code.InvalidArgument,
    );
    const changed = await auth.client.changePassword(
      { currentPassword: password, newPassword: "a brand new passphrase" },
      bearer(tokens.accessToken),
    );
    assert.equal(changed.revokedSessionCount, 1);
    assert.ok(await auth.client.getMe({}, bearer(tokens.accessToken)));
    await rejectsWith(auth.client.getMe({}, bearer(other.result.value.accessToken)), Code.Unauthenticated, "SESSION_ENDED");
    await rejectsWith(auth.client.login({ identifier: { case: "email", value: email }, password }), Code.Unauthenticated);
    assert.equal(
      (await auth.client.login({ identifier: { case: "email", value: email }, password: "a brand new passphrase" })).result.case,
      "tokens",
    );
  });

  it("Password reset: the code sets a new password and ends every session; wrong codes count and void it", async () => {
    const { email, tokens } = await signedInUser(auth);
    const started = await auth.client.startPasswordReset({ identifier: { case: "email", value: email } });
    assert.ok(started.codeExpiresAt && started.resendAvailableAt);
    const code = await auth.codeFor(email, "password_reset_code");
    await auth.client.completePasswordReset({ identifier: { case: "email", value: email }, code, newPassword: "reset passphrase one" });
    await rejectsWith(auth.client.getMe({}, bearer(tokens.accessToken)), Code.Unauthenticated, "SESSION_ENDED");
    await rejectsWith(auth.client.refreshTokens({ refreshToken: tokens.refreshToken }), Code.Unauthenticated);
    assert.equal(
      (await auth.client.login({ identifier: { case: "email", value: email }, password: "reset passphrase one" })).result.case,
      "tokens",
    );
    // The code is used up.
    await rejectsWith(
      auth.client.completePasswordReset({ identifier: { case: "email", value: email }, code, newPassword: "reset passphrase two" }),
      Code.Unauthenticated,
      "INVALID_CODE",
    );

    await new Promise((resolve) => setTimeout(resolve, 1100));
    await auth.redis.del("dev-outbox");
    await auth.client.startPasswordReset({ identifier: { case: "email", value: email } });
    const second = await auth.codeFor(email, "password_reset_code");
    const wrongCode = second === "000000" ? "111111" : "000000";
    for (let attempt = 0; attempt < 3; attempt++) {
      await rejectsWith(
        auth.client.completePasswordReset({
          identifier: { case: "email", value: email },
          code: wrongCode,
          newPassword: "reset passphrase two",
        }),
        Code.Unauthenticated,
        "INVALID_CODE",
      );
    }
    await rejectsWith(
      auth.client.completePasswordReset({ identifier: { case: "email", value: email }, code: second, newPassword: "reset passphrase two" }),
      Code.Unauthenticated,
      "INVALID_CODE",
    );
    await rejectsWith(
      auth.client.completePasswordReset({ identifier: { case: "email", value: email }, code: "12", newPassword: "reset passphrase two" }),
      Code.InvalidArgument,
    );
    await rejectsWith(auth.client.startPasswordReset({ identifier: { case: "phoneNumber", value: "12345" } }), Code.InvalidArgument);
  });
});
