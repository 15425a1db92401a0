// Goal: sessions and verification RPCs with good and bad input against the
// real process: ListSessions pages through the caller's sessions only;
// RevokeSession ends one (another user's is NOT_FOUND); Logout ends this,
// others, or all; refresh with a bad token; email verification resends,
// changes an address through a code, and refuses wrong codes; phone numbers
// are checked by the phone-number library.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { LogoutScope, VerificationPurpose } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { bearer, rejectsWith, relaxedLimits, signedInUser, uniqueEmail, useAuth } from "./support/auth-harness.ts";

describe("auth: sessions and verification", function () {
  this.timeout(120_000);
  const auth = useAuth(relaxedLimits);

  async function moreSessions(email: string, password: string, count: number) {
    const tokens = [];
    for (let index = 0; index < count; index++) {
      const login = await auth.client.login({ identifier: { case: "email", value: email }, password, deviceName: `device ${index}` });
      assert.equal(login.result.case, "tokens");
      tokens.push(login.result.value);
    }
    return tokens;
  }

  it("ListSessions: pages through the caller's own sessions, most recent first; refuses bad paging", async () => {
    const { email, password, tokens } = await signedInUser(auth);
    await moreSessions(email, password, 2);
    await signedInUser(auth); // Someone else's session, never listed.
    const first = await auth.client.listSessions({ pageSize: 2 }, bearer(tokens.accessToken));
    assert.equal(first.sessions.length, 2);
    assert.notEqual(first.nextPageToken, "");
    const second = await auth.client.listSessions({ pageSize: 2, pageToken: first.nextPageToken }, bearer(tokens.accessToken));
    assert.equal(second.sessions.length, 1);
    assert.equal(second.nextPageToken, "");
    const all = [...first.sessions, ...second.sessions];
    assert.equal(new Set(all.map((session) => session.id)).size, 3);
    assert.equal(all.filter((session) => session.current).length, 1);
    assert.equal(all.find((session) => session.current)?.id, tokens.sessionId);
    assert.equal(all[0]?.device?.name, "device 1");
    assert.ok(all.every((session) => session.device?.ipAddress === "127.0.0.1"));
    await rejectsWith(auth.client.listSessions({ pageToken: "garbage" }, bearer(tokens.accessToken)), Code.InvalidArgument);
    await rejectsWith(auth.client.listSessions({ pageSize: 101 }, bearer(tokens.accessToken)), Code.InvalidArgument);
    await rejectsWith(auth.client.listSessions({}), Code.Unauthenticated);
  });

  it("RevokeSession: ends one of the caller's sessions; another user's or an unknown one is NOT_FOUND", async () => {
    const { email, password, tokens } = await signedInUser(auth);
    const [other] = await moreSessions(email, password, 1);
    const stranger = await signedInUser(auth);
    assert.deepEqual(await auth.client.revokeSession({ sessionId: other?.sessionId }, bearer(tokens.accessToken)), {
      $typeName: "trustmesh.auth.v1.RevokeSessionResponse",
      revoked: true,
    });
    await rejectsWith(auth.client.getMe({}, bearer(other?.accessToken as string)), Code.Unauthenticated, "SESSION_ENDED");
    assert.equal((await auth.client.revokeSession({ sessionId: other?.sessionId }, bearer(tokens.accessToken))).revoked, false);
    await rejectsWith(auth.client.revokeSession({ sessionId: stranger.tokens.sessionId }, bearer(tokens.accessToken)), Code.NotFound);
    await rejectsWith(auth.client.revokeSession({ sessionId: crypto.randomUUID() }, bearer(tokens.accessToken)), Code.NotFound);
    await rejectsWith(auth.client.revokeSession({ sessionId: "not-a-uuid" }, bearer(tokens.accessToken)), Code.InvalidArgument);
    assert.ok(await auth.client.getMe({}, bearer(stranger.tokens.accessToken)));
  });

  it("Logout: ends this session, the others, or all; a bad scope is INVALID_ARGUMENT", async () => {
    const { email, password, tokens } = await signedInUser(auth);
    const [second, third] = await moreSessions(email, password, 2);
    assert.equal((await auth.client.logout({ scope: LogoutScope.OTHERS }, bearer(tokens.accessToken))).revokedSessionCount, 2);
    await rejectsWith(auth.client.getMe({}, bearer(second?.accessToken as string)), Code.Unauthenticated, "SESSION_ENDED");
    await rejectsWith(
      auth.client.refreshTokens({ refreshToken: third?.refreshToken as string }),
      Code.Unauthenticated,
      "REFRESH_TOKEN_INVALID",
    );
    assert.ok(await auth.client.getMe({}, bearer(tokens.accessToken)));
    await rejectsWith(auth.client.logout({ scope: 99 as LogoutScope }, bearer(tokens.accessToken)), Code.InvalidArgument);
    assert.equal((await auth.client.logout({}, bearer(tokens.accessToken))).revokedSessionCount, 1);
    await rejectsWith(auth.client.logout({}, bearer(tokens.accessToken)), Code.Unauthenticated, "SESSION_ENDED");
    const [fourth, fifth] = await moreSessions(email, password, 2);
    assert.equal((await auth.client.logout({ scope: LogoutScope.ALL }, bearer(fourth?.accessToken as string))).revokedSessionCount, 2);
    await rejectsWith(auth.client.getMe({}, bearer(fifth?.accessToken as string)), Code.Unauthenticated, "SESSION_ENDED");
  });

  it("RefreshTokens: refuses unknown and malformed tokens", async () => {
    await rejectsWith(auth.client.refreshTokens({ refreshToken: "A".repeat(43) }), Code.Unauthenticated, "REFRESH_TOKEN_INVALID");
    await rejectsWith(auth.client.refreshTokens({ refreshToken: "short" }), Code.InvalidArgument);
    await rejectsWith(auth.client.refreshTokens({ refreshToken: "has spaces in it, not base64url" }), Code.InvalidArgument);
  });

  it("Email verification: resends on request, changes the address through a code, refuses wrong codes", async () => {
    const email = uniqueEmail("resend");
    await auth.client.signUp({ email, password: "a decent passphrase", idempotencyKey: "resend-1" });
    const firstCode = await auth.codeFor(email);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const resent = await auth.client.startEmailVerification({ purpose: VerificationPurpose.CONFIRM, email });
    assert.ok(resent.codeExpiresAt && resent.resendAvailableAt);
    let secondCode = firstCode;
    for (let attempt = 0; attempt < 50 && (await auth.messagesFor(email)).length < 2; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    secondCode = (await auth.messagesFor(email))[0]?.code ?? "";
    assert.equal((await auth.messagesFor(email)).length, 2, "a second code was sent");
    if (firstCode !== secondCode) {
      await rejectsWith(auth.client.completeEmailVerification({ email, code: firstCode }), Code.Unauthenticated, "INVALID_CODE");
    }
    await auth.client.completeEmailVerification({ email, code: secondCode });
    await rejectsWith(auth.client.completeEmailVerification({ email, code: "12ab56" }), Code.InvalidArgument);
    await rejectsWith(auth.client.startEmailVerification({ purpose: VerificationPurpose.UNSPECIFIED, email }), Code.InvalidArgument);

    const login = await auth.client.login({ identifier: { case: "email", value: email }, password: "a decent passphrase" });
    assert.equal(login.result.case, "tokens");
    const token = login.result.value.accessToken;
    const newEmail = uniqueEmail("moved");
    await rejectsWith(auth.client.startEmailVerification({ purpose: VerificationPurpose.CHANGE, email: newEmail }), Code.Unauthenticated);
    await auth.client.startEmailVerification({ purpose: VerificationPurpose.CHANGE, email: newEmail }, bearer(token));
    assert.equal((await auth.client.getMe({}, bearer(token))).user?.pendingEmail, newEmail);
    await auth.client.completeEmailVerification({ email: newEmail, code: await auth.codeFor(newEmail) });
    const me = await auth.client.getMe({}, bearer(token));
    assert.deepEqual([me.user?.email, me.user?.emailVerified, me.user?.pendingEmail], [newEmail, true, ""]);
    const events = await auth.database.query("SELECT count(*)::int AS n FROM outbox_event WHERE topic = 'contact.verified'");
    assert.ok(events.rows[0]?.n >= 2);

    // Someone else's address: its owner is warned, the caller's account does not change.
    const { email: taken } = await signedInUser(auth);
    await auth.client.startEmailVerification({ purpose: VerificationPurpose.CHANGE, email: taken }, bearer(token));
    for (
      let attempt = 0;
      attempt < 50 && !(await auth.messagesFor(taken)).some((message) => message.kind === "contact_in_use");
      attempt++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok((await auth.messagesFor(taken)).some((message) => message.kind === "contact_in_use"));
    assert.equal((await auth.client.getMe({}, bearer(token))).user?.pendingEmail, "");
  });

  it("Phone verification: a confirm request for an unknown number answers like any other; invalid numbers are refused", async () => {
    const answer = await auth.client.startPhoneVerification({ purpose: VerificationPurpose.CONFIRM, phoneNumber: "+14155550123" });
    assert.ok(answer.codeExpiresAt);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await auth.messagesFor("+14155550123"), []);
    await rejectsWith(
      auth.client.startPhoneVerification({ purpose: VerificationPurpose.CONFIRM, phoneNumber: "+99912345678" }),
      Code.InvalidArgument,
      "INVALID_PHONE_NUMBER",
    );
    await rejectsWith(
      auth.client.completePhoneVerification({ phoneNumber: "+14155550123", code: "123456" }),
      Code.Unauthenticated,
      "INVALID_CODE",
    );
    await rejectsWith(auth.client.completePhoneVerification({ phoneNumber: "0800", code: "123456" }), Code.InvalidArgument);
  });
});
