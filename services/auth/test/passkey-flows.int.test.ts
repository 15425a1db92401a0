// Goal: passkeys over the network, through the real auth process on real
// Postgres and Redis, with a software authenticator that signs for real
// (ES256 keys from node:crypto, nothing mocked): registration (Begin/Finish)
// stores the passkey, and a retry of Finish after a lost answer returns the
// stored one from the idempotency record; a sign-in with the passkey alone
// opens a session with amr hwk+user+mfa; a passkey answers the MFA challenge
// of a password Login through CompleteMfa; used ceremonies, replayed
// assertions, wrong origins, missing user verification and a cloned key's
// counter are refused (the last audited as its own event); every passkey RPC
// refuses bad input and callers without a session, changing nothing.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { AuthenticationMethod, MfaMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { decodeJwt } from "jose";
import {
  type AuthHarness,
  bearer,
  metricValue,
  rejectsWith,
  relaxedLimits,
  signedInUser,
  uniqueEmail,
  useAuth,
} from "./support/auth-harness.ts";
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from "./support/software-authenticator.ts";

const relyingPartyId = "trustmesh.test";
const origin = "https://app.trustmesh.test";
const browser = { origin };

/** A signed-in user with one passkey on `authenticator`, registered through both RPCs. */
async function userWithPasskey(auth: AuthHarness, authenticator: SoftwareAuthenticator = createSoftwareAuthenticator()) {
  const user = await signedInUser(auth, uniqueEmail("passkey"));
  const access = bearer(user.tokens.accessToken);
  const ceremony = await auth.client.beginPasskeyRegistration({}, access);
  const { passkey } = await auth.client.finishPasskeyRegistration(
    {
      ceremonyId: ceremony.ceremonyId,
      responseJson: authenticator.register(ceremony.optionsJson, browser),
      name: "Laptop",
      idempotencyKey: `register-${user.email.replace("@", ".")}`,
    },
    access,
  );
  assert.ok(passkey);
  return { ...user, userId: decodeJwt(user.tokens.accessToken).sub as string, authenticator, passkey, access };
}

async function auditKinds(auth: AuthHarness, userId: string): Promise<string[]> {
  return (await auth.database.query("SELECT kind FROM audit_event WHERE user_id = $1 ORDER BY id", [userId])).rows.map((row) => row.kind);
}

describe("auth: passkeys over the network", function () {
  this.timeout(120_000);
  const auth = useAuth({ ...relaxedLimits, AUTH_WEBAUTHN_RP_ID: relyingPartyId, AUTH_WEBAUTHN_ORIGINS: origin });

  it("registers a passkey with real signatures; a retried Finish gets the stored answer; GetMe lists it", async () => {
    const user = await signedInUser(auth, uniqueEmail("passkey"));
    const access = bearer(user.tokens.accessToken);
    const userId = decodeJwt(user.tokens.accessToken).sub as string;
    const authenticator = createSoftwareAuthenticator({ aaguid: "08987058-cadc-4b81-b6e1-30de50dcbe96" });

    const ceremony = await auth.client.beginPasskeyRegistration({}, access);
    assert.match(ceremony.ceremonyId, /^[0-9a-f-]{36}$/);
    assert.ok(Number(ceremony.expiresAt?.seconds) > Date.now() / 1000);
    const options = JSON.parse(ceremony.optionsJson);
    assert.equal(options.rp.id, relyingPartyId);
    assert.equal(options.user.name, user.email);
    assert.equal(options.user.id, Buffer.from(userId.replaceAll("-", ""), "hex").toString("base64url"));
    assert.equal(options.authenticatorSelection.residentKey, "required");
    assert.equal(options.authenticatorSelection.userVerification, "required");

    const request = {
      ceremonyId: ceremony.ceremonyId,
      responseJson: authenticator.register(ceremony.optionsJson, browser),
      name: "Work laptop",
      idempotencyKey: "register-1",
    };
    const first = await auth.client.finishPasskeyRegistration(request, access);
    assert.equal(first.passkey?.name, "Work laptop");
    assert.equal(first.passkey?.credentialId, authenticator.credentials[0]?.id);
    assert.equal(first.passkey?.aaguid, "08987058-cadc-4b81-b6e1-30de50dcbe96");

    // The answer was lost; the client sends the same request again. The challenge is used up, the record answers.
    const retry = await auth.client.finishPasskeyRegistration(request, access);
    assert.deepEqual(retry.passkey, first.passkey);
    await rejectsWith(
      auth.client.finishPasskeyRegistration({ ...request, name: "Another name" }, access),
      Code.AlreadyExists,
      "IDEMPOTENCY_KEY_REUSED",
    );
    await rejectsWith(
      auth.client.finishPasskeyRegistration({ ...request, idempotencyKey: "register-2" }, access),
      Code.FailedPrecondition,
      "CEREMONY_UNKNOWN",
    );

    const me = await auth.client.getMe({}, access);
    assert.equal(me.user?.mfa?.passkeyCount, 1);
    assert.deepEqual(
      me.passkeys.map((passkey) => [passkey.id, passkey.name]),
      [[first.passkey?.id, "Work laptop"]],
    );
    assert.equal((await auditKinds(auth, userId)).filter((kind) => kind === "passkey_registered").length, 1);
    assert.ok((await auth.messagesFor(user.email)).some((message) => /a passkey was added/.test(message.text)));
    // A second registration excludes the passkey the authenticator already holds.
    const next = JSON.parse((await auth.client.beginPasskeyRegistration({}, access)).optionsJson);
    assert.deepEqual(
      next.excludeCredentials.map((credential: { id: string }) => credential.id),
      [first.passkey?.credentialId],
    );
  });

  it("signs in with the passkey alone: tokens with amr hwk+user+mfa; used ceremonies, replays, wrong origins and no UV are refused", async () => {
    const { userId, authenticator, passkey, email } = await userWithPasskey(auth);
    const ceremony = await auth.client.beginPasskeyLogin({});
    const options = JSON.parse(ceremony.optionsJson);
    assert.equal(options.rpId, relyingPartyId);
    assert.equal(options.userVerification, "required");
    assert.equal(options.allowCredentials, undefined, "the options name no account");

    const responseJson = authenticator.authenticate(ceremony.optionsJson, browser);
    const signedIn = await auth.client.finishPasskeyLogin({ ceremonyId: ceremony.ceremonyId, responseJson, deviceName: "Phone" });
    assert.ok(signedIn.tokens);
    const claims = decodeJwt(signedIn.tokens.accessToken);
    assert.equal(claims.sub, userId);
    assert.deepEqual(claims.amr, ["hwk", "user", "mfa"]);
    const me = await auth.client.getMe({}, bearer(signedIn.tokens.accessToken));
    assert.equal(me.user?.email, email);
    assert.deepEqual(me.session?.authenticationMethods, [AuthenticationMethod.PASSKEY]);
    assert.equal(me.session?.device?.name, "Phone");
    assert.ok(me.passkeys[0]?.lastUsedAt, "the passkey's last use is recorded");
    const refreshed = await auth.client.refreshTokens({ refreshToken: signedIn.tokens.refreshToken });
    assert.deepEqual(decodeJwt(refreshed.tokens?.accessToken ?? "").amr, ["hwk", "user", "mfa"]);

    // The same answer again: its ceremony was used up.
    await rejectsWith(
      auth.client.finishPasskeyLogin({ ceremonyId: ceremony.ceremonyId, responseJson }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    // An old assertion replayed into a fresh ceremony does not sign its challenge.
    const fresh = await auth.client.beginPasskeyLogin({});
    await rejectsWith(
      auth.client.finishPasskeyLogin({ ceremonyId: fresh.ceremonyId, responseJson }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    for (const overrides of [{ origin: "https://evil.example" }, { ...browser, userVerified: false }]) {
      const next = await auth.client.beginPasskeyLogin({});
      await rejectsWith(
        auth.client.finishPasskeyLogin({
          ceremonyId: next.ceremonyId,
          responseJson: authenticator.authenticate(next.optionsJson, overrides),
        }),
        Code.Unauthenticated,
        "SECOND_FACTOR_REJECTED",
      );
    }

    // A clone of the key that lags behind reports an older counter: refused, audited as its own event, counted.
    const before = (await metricValue(auth, "auth_mfa_total", { method: "passkey", outcome: "counter_regressed" })) ?? 0;
    authenticator.setSignCount(passkey.credentialId, 0);
    const cloned = await auth.client.beginPasskeyLogin({});
    await rejectsWith(
      auth.client.finishPasskeyLogin({
        ceremonyId: cloned.ceremonyId,
        responseJson: authenticator.authenticate(cloned.optionsJson, browser),
      }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    const regressions = await auth.database.query<{ detail: Record<string, string> }>(
      "SELECT detail FROM audit_event WHERE kind = 'passkey_counter_regressed' AND detail->>'passkey_id' = $1",
      [passkey.id],
    );
    assert.equal(regressions.rows.length, 1);
    assert.equal(regressions.rows[0]?.detail.during, "passkey_login");
    assert.equal(await metricValue(auth, "auth_mfa_total", { method: "passkey", outcome: "counter_regressed" }), before + 1);
    const rejections = await auth.database.query<{ rejection: string }>(
      "SELECT detail->>'rejection' AS rejection FROM audit_event WHERE kind = 'mfa_failed' AND detail->>'passkey_id' = $1 ORDER BY id",
      [passkey.id],
    );
    assert.deepEqual(
      rejections.rows.map((row) => row.rejection),
      ["PASSKEY_VERIFICATION_FAILED", "PASSKEY_VERIFICATION_FAILED", "PASSKEY_VERIFICATION_FAILED", "PASSKEY_COUNTER_REGRESSED"],
    );
    assert.ok((await auditKinds(auth, userId)).includes("login_succeeded"));
  });

  it("answers the MFA challenge of a password login with the passkey (Login → CompleteMfa), bound to that one login", async () => {
    const { email, password, authenticator, passkey } = await userWithPasskey(auth);
    const login = () => auth.client.login({ identifier: { case: "email", value: email }, password });
    const first = await login();
    const second = await login();
    assert.equal(first.result.case, "mfaChallenge");
    assert.equal(second.result.case, "mfaChallenge");
    const challenge = first.result.value;
    assert.deepEqual(challenge.methods, [MfaMethod.PASSKEY]);
    const options = JSON.parse(challenge.passkeyOptionsJson);
    assert.deepEqual(
      options.allowCredentials.map((credential: { id: string }) => credential.id),
      [passkey.credentialId],
    );

    // An assertion made for the first login's options does not finish the second.
    const answer = authenticator.authenticate(challenge.passkeyOptionsJson, browser);
    await rejectsWith(
      auth.client.completeMfa({ mfaToken: second.result.value.mfaToken, proof: { case: "passkeyResponseJson", value: answer } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    await rejectsWith(
      auth.client.completeMfa({ mfaToken: challenge.mfaToken, proof: { case: "passkeyResponseJson", value: "{" } }),
      Code.InvalidArgument,
    );
    // The malformed answer used up this login's WebAuthn challenge; a new login gets a new one.
    const third = await login();
    assert.equal(third.result.case, "mfaChallenge");
    const done = await auth.client.completeMfa({
      mfaToken: third.result.value.mfaToken,
      proof: { case: "passkeyResponseJson", value: authenticator.authenticate(third.result.value.passkeyOptionsJson, browser) },
    });
    assert.deepEqual(decodeJwt(done.tokens?.accessToken ?? "").amr, ["pwd", "hwk", "user", "mfa"]);
    const me = await auth.client.getMe({}, bearer(done.tokens?.accessToken ?? ""));
    assert.deepEqual(me.session?.authenticationMethods, [AuthenticationMethod.PASSWORD, AuthenticationMethod.PASSKEY]);
  });

  it("refuses bad input and callers without a session at every passkey RPC, changing nothing", async () => {
    const { access, authenticator, userId } = await userWithPasskey(auth);
    const other = await signedInUser(auth, uniqueEmail("passkey-other"));
    const stranger = createSoftwareAuthenticator();
    const passkeysOf = async (id: string) =>
      Number((await auth.database.query("SELECT count(*) FROM passkey_credential WHERE user_id = $1", [id])).rows[0]?.count);

    await rejectsWith(auth.client.beginPasskeyRegistration({}), Code.Unauthenticated);
    const ceremony = await auth.client.beginPasskeyRegistration({}, access);
    const good = {
      ceremonyId: ceremony.ceremonyId,
      responseJson: stranger.register(ceremony.optionsJson, browser),
      name: "",
      idempotencyKey: "bad-input-1",
    };
    await rejectsWith(auth.client.finishPasskeyRegistration(good), Code.Unauthenticated);
    for (const [field, request] of [
      ["ceremony_id", { ...good, ceremonyId: "not-a-uuid" }],
      ["response_json", { ...good, responseJson: "x" }],
      ["name", { ...good, name: "tab\there" }],
      ["idempotency_key", { ...good, idempotencyKey: "spaces are not allowed" }],
    ] as const) {
      const error = await rejectsWith(auth.client.finishPasskeyRegistration(request, access), Code.InvalidArgument);
      assert.match(error.message, new RegExp(field));
    }
    // Another account cannot finish this account's ceremony, and the try uses it up.
    await rejectsWith(
      auth.client.finishPasskeyRegistration(good, bearer(other.tokens.accessToken)),
      Code.FailedPrecondition,
      "CEREMONY_UNKNOWN",
    );
    await rejectsWith(auth.client.finishPasskeyRegistration(good, access), Code.FailedPrecondition, "CEREMONY_UNKNOWN");
    const fresh = await auth.client.beginPasskeyRegistration({}, access);
    const malformed = await rejectsWith(
      auth.client.finishPasskeyRegistration({ ...good, ceremonyId: fresh.ceremonyId, responseJson: "{}" }, access),
      Code.InvalidArgument,
    );
    assert.match(malformed.message, /response_json/);
    const wrongOrigin = await auth.client.beginPasskeyRegistration({}, access);
    await rejectsWith(
      auth.client.finishPasskeyRegistration(
        {
          ...good,
          ceremonyId: wrongOrigin.ceremonyId,
          responseJson: stranger.register(wrongOrigin.optionsJson, { origin: "https://evil.example" }),
        },
        access,
      ),
      Code.InvalidArgument,
      "PASSKEY_REGISTRATION_REJECTED",
    );
    assert.equal(await passkeysOf(userId), 1, "no refused registration stored a passkey");
    assert.equal(await passkeysOf(decodeJwt(other.tokens.accessToken).sub as string), 0);

    // BeginPasskeyLogin takes an empty message; anything else is refused by the transport.
    const malformedBody = await fetch(`${auth.httpUrl}/trustmesh.auth.v1.AuthService/BeginPasskeyLogin`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    assert.equal(malformedBody.status, 400);
    assert.equal(((await malformedBody.json()) as { code: string }).code, "invalid_argument");

    const login = await auth.client.beginPasskeyLogin({});
    await rejectsWith(auth.client.finishPasskeyLogin({ ceremonyId: "nope", responseJson: "{}" }), Code.InvalidArgument);
    await rejectsWith(
      auth.client.finishPasskeyLogin({ ceremonyId: login.ceremonyId, responseJson: "{}", deviceName: "bell\u0007" }),
      Code.InvalidArgument,
    );
    const unknownCeremony = crypto.randomUUID();
    await rejectsWith(
      auth.client.finishPasskeyLogin({ ceremonyId: unknownCeremony, responseJson: authenticator.authenticate(login.optionsJson, browser) }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    const notJson = await rejectsWith(
      auth.client.finishPasskeyLogin({ ceremonyId: login.ceremonyId, responseJson: "[1" }),
      Code.InvalidArgument,
    );
    assert.match(notJson.message, /response_json/);
    // A credential no account registered.
    const another = await auth.client.beginPasskeyLogin({});
    const unregistered = createSoftwareAuthenticator();
    const registration = await auth.client.beginPasskeyRegistration({}, bearer(other.tokens.accessToken));
    unregistered.register(registration.optionsJson, browser);
    await rejectsWith(
      auth.client.finishPasskeyLogin({
        ceremonyId: another.ceremonyId,
        responseJson: unregistered.authenticate(another.optionsJson, browser),
      }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
  });
});
