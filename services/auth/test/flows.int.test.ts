// Goal: the whole account life over the network against the real auth
// process, Postgres and Redis: sign up, verify the email with the code from
// the development outbox (and the ContactVerified event lands in the outbox
// table in the same transaction), sign in, refresh with rotation, present the
// old refresh token again (reuse) which ends the whole family and its session
// at once, then sign in again. Audit rows are append-only.
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ContactKind, ContactVerifiedSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { bearer, goodPassword, rejectsWith, relaxedLimits, uniqueEmail, useAuth } from "./support/auth-harness.ts";

describe("auth: sign up, verify, sign in, refresh, reuse", function () {
  this.timeout(120_000);
  const auth = useAuth(relaxedLimits);

  it("runs the full flow, and a reused refresh token ends its family and session", async () => {
    const email = uniqueEmail("flow");
    const signUp = await auth.client.signUp({ email, password: goodPassword, displayName: "Flo", idempotencyKey: "flow-1" });
    assert.ok(Number(signUp.codeExpiresAt?.seconds) > Date.now() / 1000);

    // Unverified: the password is right, but sign-in waits for the code.
    await rejectsWith(
      auth.client.login({ identifier: { case: "email", value: email }, password: goodPassword }),
      Code.FailedPrecondition,
      "CONTACT_NOT_VERIFIED",
    );

    const code = await auth.codeFor(email);
    const verified = await auth.client.completeEmailVerification({ email, code });
    assert.ok(verified.verifiedAt);
    const events = await auth.database.query<{ topic: string; payload: Buffer }>("SELECT topic, payload FROM outbox_event");
    assert.equal(events.rows.length, 1);
    assert.equal(events.rows[0]?.topic, "contact.verified");
    const event = fromBinary(ContactVerifiedSchema, events.rows[0]?.payload as Buffer);
    assert.equal(event.contact, email);
    assert.equal(event.kind, ContactKind.EMAIL);

    const login = await auth.client.login({
      identifier: { case: "email", value: email.toUpperCase() },
      password: goodPassword,
      deviceName: "laptop",
    });
    assert.equal(login.result.case, "tokens");
    const first = login.result.value;
    assert.equal(first.tokenType, "Bearer");
    const me = await auth.client.getMe({}, bearer(first.accessToken));
    assert.equal(me.user?.email, email);
    assert.equal(me.user?.emailVerified, true);
    assert.equal(me.user?.id, event.userId);
    assert.equal(me.session?.id, first.sessionId);
    assert.equal(me.session?.device?.name, "laptop");
    assert.equal(me.session?.current, true);

    const rotated = (await auth.client.refreshTokens({ refreshToken: first.refreshToken })).tokens;
    assert.ok(rotated);
    assert.notEqual(rotated.refreshToken, first.refreshToken);
    assert.notEqual(rotated.accessToken, first.accessToken);
    assert.equal(rotated.sessionId, first.sessionId);
    assert.equal((await auth.client.getMe({}, bearer(rotated.accessToken))).user?.email, email);

    // The old token again: someone else has a copy. The family ends, and with it the session.
    await rejectsWith(auth.client.refreshTokens({ refreshToken: first.refreshToken }), Code.Unauthenticated, "REFRESH_TOKEN_REUSED");
    await rejectsWith(auth.client.refreshTokens({ refreshToken: rotated.refreshToken }), Code.Unauthenticated, "REFRESH_TOKEN_INVALID");
    await rejectsWith(auth.client.getMe({}, bearer(rotated.accessToken)), Code.Unauthenticated, "SESSION_ENDED");
    const session = await auth.database.query("SELECT revoked_reason FROM auth_session WHERE id = $1", [first.sessionId]);
    assert.equal(session.rows[0]?.revoked_reason, "refresh_token_reuse");
    const audit = await auth.database.query("SELECT kind FROM audit_event WHERE user_id = $1 ORDER BY id", [event.userId]);
    assert.deepEqual(
      audit.rows.map((row) => row.kind),
      ["sign_up", "login_refused_unverified", "contact_verified", "login_succeeded", "refresh_token_reuse"],
    );
    const metrics = await (await fetch(auth.metricsUrl)).text();
    assert.match(metrics, /auth_refresh_token_reuse_total\{[^}]*\} 1/);
    assert.match(metrics, /auth_token_refreshes_total\{outcome="rotated"[^}]*\} 1/);
    assert.match(metrics, /auth_verification_codes_confirmed_total\{channel="email",flow="contact"[^}]*\} 1/);

    const again = await auth.client.login({ identifier: { case: "email", value: email }, password: goodPassword });
    assert.equal(again.result.case, "tokens");
    assert.notEqual(again.result.value.sessionId, first.sessionId);
    assert.equal((await auth.client.getMe({}, bearer(again.result.value.accessToken))).user?.email, email);
  });

  it("keeps the audit trail append-only: the database refuses UPDATE, DELETE and TRUNCATE", async () => {
    const count = Number((await auth.database.query("SELECT count(*) FROM audit_event")).rows[0]?.count);
    assert.ok(count > 0);
    for (const statement of ["UPDATE audit_event SET kind = 'x'", "DELETE FROM audit_event", "TRUNCATE audit_event"]) {
      await assert.rejects(auth.database.query(statement), /append-only/);
    }
    assert.equal(Number((await auth.database.query("SELECT count(*) FROM audit_event")).rows[0]?.count), count);
  });
});
