// Goal: passkeys against real Postgres and Redis, with a software
// authenticator producing real P-256 signatures (no mocked verification):
// registration and a login without username succeed and store the counter;
// a tampered signature, a wrong origin, a wrong RP id, a missing user
// verification, a reused challenge and a counter that goes backwards are each
// refused (the last with its own rejection, for the audit log) and change
// nothing; a passkey answers an MFA challenge only for its own account and
// attempt; the per-account limit holds under parallel registrations.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { type CBORType, decodeCBOR, encodeCBOR } from "@levischuck/tiny-cbor";
import { AuthenticationMethod, MfaMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { userHandleOf } from "../src/mfa/passkeys.ts";
import type { SecondFactorModules } from "../src/mfa/second-factors.ts";
import {
  assertRefused,
  logInWithPasskey,
  registerPasskey,
  type SecondFactorHarness,
  startSecondFactorHarness,
  testOrigin,
} from "./support/second-factor-harness.ts";
import { createSoftwareAuthenticator, type SoftwareAuthenticator } from "./support/software-authenticator.ts";

const browser = { origin: testOrigin };

/** Flips one bit in a base64url field of an assertion, as an attacker editing it would. */
function tampered(responseJson: string, field: "signature" | "authenticatorData" | "clientDataJSON"): string {
  const response = JSON.parse(responseJson) as { response: Record<string, string> };
  const bytes = Buffer.from(response.response[field] ?? "", "base64url");
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0x01;
  response.response[field] = bytes.toString("base64url");
  return JSON.stringify(response);
}

/** Flips one bit of the packed attestation statement's signature, leaving the rest intact. */
function tamperedAttestationSignature(responseJson: string): string {
  const response = JSON.parse(responseJson) as { response: { attestationObject: string } };
  const attestation = decodeCBOR(Uint8Array.from(Buffer.from(response.response.attestationObject, "base64url"))) as Map<string, CBORType>;
  const statement = attestation.get("attStmt") as Map<string, CBORType>;
  const signature = Uint8Array.from(statement.get("sig") as Uint8Array);
  const middle = Math.floor(signature.length / 2);
  signature[middle] = (signature[middle] ?? 0) ^ 0x01;
  statement.set("sig", signature);
  response.response.attestationObject = Buffer.from(encodeCBOR(attestation)).toString("base64url");
  return JSON.stringify(response);
}

describe("passkeys (real Postgres and Redis, real signatures)", function () {
  this.timeout(60_000);
  let harness: SecondFactorHarness;
  let modules: SecondFactorModules;

  before(async () => {
    harness = await startSecondFactorHarness("auth_passkeys");
    modules = harness.modules();
  });

  after(async () => {
    await harness?.stop();
  });

  /** An account with one passkey on `authenticator`. */
  async function registered(authenticator: SoftwareAuthenticator) {
    const userId = await harness.createAccount();
    return { userId, passkey: await registerPasskey(modules, userId, authenticator, "Frank's laptop") };
  }

  async function signCountOf(passkeyId: string): Promise<number> {
    const { rows } = await harness.sql.query<{ sign_count: string }>("SELECT sign_count FROM passkey_credential WHERE id = $1", [
      passkeyId,
    ]);
    return Number(rows[0]?.sign_count);
  }

  it("registers a discoverable passkey with user verification required, and lists it", async () => {
    const authenticator = createSoftwareAuthenticator({ aaguid: "08987058-cadc-4b81-b6e1-30de50dcbe96" });
    const userId = await harness.createAccount();
    const ceremony = await modules.passkeys.beginRegistration(userId, { name: "frank@example.com", displayName: "Frank" });
    const options = JSON.parse(ceremony.optionsJson);
    assert.equal(options.rp.id, "trustmesh.test");
    assert.equal(options.user.id, Buffer.from(userHandleOf(userId)).toString("base64url"));
    assert.equal(options.user.name, "frank@example.com");
    assert.deepEqual(options.authenticatorSelection, { residentKey: "required", requireResidentKey: true, userVerification: "required" });
    assert.deepEqual(options.excludeCredentials, []);
    assert.ok(ceremony.expiresAt.getTime() > Date.now());

    const passkey = await modules.passkeys.finishRegistration(userId, {
      ceremonyId: ceremony.ceremonyId,
      responseJson: authenticator.register(ceremony.optionsJson, browser),
      name: "",
    });
    assert.equal(passkey.credentialId, authenticator.credentials[0]?.id);
    assert.equal(passkey.aaguid, "08987058-cadc-4b81-b6e1-30de50dcbe96");
    assert.equal(passkey.name, "Passkey", "an unnamed single-device passkey gets the generic name");
    assert.deepEqual(passkey.transports, ["internal", "hybrid"]);
    assert.equal(passkey.backedUp, false);
    assert.equal(passkey.lastUsedAt, undefined);

    const summary = await modules.secondFactors.summaryFor(userId);
    assert.equal(summary.mfa.passkeyCount, 1);
    assert.deepEqual(
      summary.passkeys.map((listed) => listed.id),
      [passkey.id],
    );
    assert.deepEqual(await modules.secondFactors.methodsFor(userId), [MfaMethod.PASSKEY]);

    // A second registration excludes the first credential, and the authenticator honours it.
    const again = await modules.passkeys.beginRegistration(userId, { name: "frank@example.com", displayName: "Frank" });
    assert.deepEqual(
      JSON.parse(again.optionsJson).excludeCredentials.map((credential: { id: string }) => credential.id),
      [passkey.credentialId],
    );
    assert.throws(() => authenticator.register(again.optionsJson, browser), /InvalidStateError/);
  });

  it("accepts 'none' attestation from an authenticator without a counter, and names a synced passkey", async () => {
    const authenticator = createSoftwareAuthenticator({ attestation: "none", backedUp: true, counter: false });
    const userId = await harness.createAccount();
    const ceremony = await modules.passkeys.beginRegistration(userId, { name: "gina@example.com", displayName: "" });
    const passkey = await modules.passkeys.finishRegistration(userId, {
      ceremonyId: ceremony.ceremonyId,
      responseJson: authenticator.register(ceremony.optionsJson, browser),
      name: "",
    });
    assert.equal(passkey.backedUp, true);
    assert.equal(passkey.name, "Synced passkey");
    // Counter 0 stays 0 at every login: allowed for authenticators without one.
    for (let login = 0; login < 3; login++) assert.equal((await logInWithPasskey(modules, authenticator)).userId, userId);
    assert.equal(await signCountOf(passkey.id), 0);
  });

  it("refuses a registration with a tampered attestation, a wrong origin or a wrong RP id, and stores nothing", async () => {
    const userId = await harness.createAccount();
    const attempts: [string, (optionsJson: string) => string][] = [
      [
        "tampered attestation signature",
        (optionsJson) => tamperedAttestationSignature(createSoftwareAuthenticator().register(optionsJson, browser)),
      ],
      ["wrong origin", (optionsJson) => createSoftwareAuthenticator().register(optionsJson, { origin: "https://evil.example" })],
      ["wrong RP id", (optionsJson) => createSoftwareAuthenticator().register(optionsJson, { ...browser, rpId: "evil.example" })],
      ["no user verification", (optionsJson) => createSoftwareAuthenticator().register(optionsJson, { ...browser, userVerified: false })],
      ["malformed JSON", () => "{not json"],
    ];
    for (const [what, respond] of attempts) {
      const ceremony = await modules.passkeys.beginRegistration(userId, { name: "hank@example.com", displayName: "" });
      await assertRefused(
        modules.passkeys.finishRegistration(userId, {
          ceremonyId: ceremony.ceremonyId,
          responseJson: respond(ceremony.optionsJson),
          name: "",
        }),
        Code.InvalidArgument,
      ).catch((error: Error) => assert.fail(`${what}: ${error.message}`));
    }
    assert.equal(await modules.passkeys.count(userId), 0);
  });

  it("uses a registration ceremony up whatever the outcome, and only for the account that began it", async () => {
    const authenticator = createSoftwareAuthenticator();
    const userId = await harness.createAccount();
    const other = await harness.createAccount();
    const stolen = await modules.passkeys.beginRegistration(userId, { name: "ivy@example.com", displayName: "" });
    await assertRefused(
      modules.passkeys.finishRegistration(other, {
        ceremonyId: stolen.ceremonyId,
        responseJson: authenticator.register(stolen.optionsJson, browser),
        name: "",
      }),
      Code.FailedPrecondition,
    );
    const ceremony = await modules.passkeys.beginRegistration(userId, { name: "ivy@example.com", displayName: "" });
    const responseJson = authenticator.register(ceremony.optionsJson, browser);
    await modules.passkeys.finishRegistration(userId, { ceremonyId: ceremony.ceremonyId, responseJson, name: "" });
    await assertRefused(
      modules.passkeys.finishRegistration(userId, { ceremonyId: ceremony.ceremonyId, responseJson, name: "" }),
      Code.FailedPrecondition,
    );
    assert.equal(await modules.passkeys.count(userId), 1);
    assert.equal(await modules.passkeys.count(other), 0);
  });

  it("signs in without a username with a real assertion, storing the counter and last use", async () => {
    const authenticator = createSoftwareAuthenticator();
    const { userId, passkey } = await registered(authenticator);
    const ceremony = await modules.passkeys.beginLogin();
    const options = JSON.parse(ceremony.optionsJson);
    assert.equal(options.rpId, "trustmesh.test");
    assert.equal(options.userVerification, "required");
    assert.equal(options.allowCredentials, undefined, "the options name no account");

    const signedIn = await modules.passkeys.finishLogin({
      ceremonyId: ceremony.ceremonyId,
      responseJson: authenticator.authenticate(ceremony.optionsJson, browser),
    });
    assert.equal(signedIn.userId, userId);
    assert.equal(signedIn.passkey.id, passkey.id);
    assert.equal(await signCountOf(passkey.id), 1);
    const [listed] = await modules.passkeys.list(userId);
    assert.ok(listed?.lastUsedAt, "last use is recorded");
  });

  it("refuses a tampered signature, tampered authenticator data or client data, a wrong origin and a missing UV", async () => {
    const authenticator = createSoftwareAuthenticator();
    const { passkey } = await registered(authenticator);
    const cases: [string, (optionsJson: string) => string][] = [
      ["tampered signature", (optionsJson) => tampered(authenticator.authenticate(optionsJson, browser), "signature")],
      ["tampered authenticator data", (optionsJson) => tampered(authenticator.authenticate(optionsJson, browser), "authenticatorData")],
      ["tampered client data", (optionsJson) => tampered(authenticator.authenticate(optionsJson, browser), "clientDataJSON")],
      ["wrong origin", (optionsJson) => authenticator.authenticate(optionsJson, { origin: "https://app.trustmesh.test.evil.example" })],
      ["no user verification", (optionsJson) => authenticator.authenticate(optionsJson, { ...browser, userVerified: false })],
    ];
    for (const [what, respond] of cases) {
      const ceremony = await modules.passkeys.beginLogin();
      await assertRefused(
        modules.passkeys.finishLogin({ ceremonyId: ceremony.ceremonyId, responseJson: respond(ceremony.optionsJson) }),
        Code.Unauthenticated,
        "PASSKEY_VERIFICATION_FAILED",
      ).catch((error: Error) => assert.fail(`${what}: ${error.message}`));
    }
    assert.equal(await signCountOf(passkey.id), 0, "no refused assertion moved the counter");
  });

  it("refuses an assertion for this RP's credential signed over another RP id", async () => {
    const authenticator = createSoftwareAuthenticator();
    await registered(authenticator);
    const ceremony = await modules.passkeys.beginLogin();
    // The authenticator is tricked into signing with the right credential but another RP id hash.
    const credential = authenticator.credentials[0];
    assert.ok(credential);
    credential.rpId = "evil.example";
    const responseJson = authenticator.authenticate(ceremony.optionsJson, { ...browser, rpId: "evil.example" });
    credential.rpId = "trustmesh.test";
    await assertRefused(
      modules.passkeys.finishLogin({ ceremonyId: ceremony.ceremonyId, responseJson }),
      Code.Unauthenticated,
      "PASSKEY_VERIFICATION_FAILED",
    );
  });

  it("refuses a reused challenge: the same assertion twice, or a new one for a used ceremony", async () => {
    const authenticator = createSoftwareAuthenticator();
    await registered(authenticator);
    const ceremony = await modules.passkeys.beginLogin();
    const responseJson = authenticator.authenticate(ceremony.optionsJson, browser);
    await modules.passkeys.finishLogin({ ceremonyId: ceremony.ceremonyId, responseJson });
    await assertRefused(
      modules.passkeys.finishLogin({ ceremonyId: ceremony.ceremonyId, responseJson }),
      Code.Unauthenticated,
      "PASSKEY_CHALLENGE_UNKNOWN",
    );
    await assertRefused(
      modules.passkeys.finishLogin({
        ceremonyId: ceremony.ceremonyId,
        responseJson: authenticator.authenticate(ceremony.optionsJson, browser),
      }),
      Code.Unauthenticated,
      "PASSKEY_CHALLENGE_UNKNOWN",
    );
    // The same assertion presented to a fresh ceremony carries the old challenge.
    const fresh = await modules.passkeys.beginLogin();
    await assertRefused(
      modules.passkeys.finishLogin({ ceremonyId: fresh.ceremonyId, responseJson }),
      Code.Unauthenticated,
      "PASSKEY_VERIFICATION_FAILED",
    );
    // Parallel presentations of one good assertion: exactly one wins.
    const raced = await modules.passkeys.beginLogin();
    const racedResponse = authenticator.authenticate(raced.optionsJson, browser);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => modules.passkeys.finishLogin({ ceremonyId: raced.ceremonyId, responseJson: racedResponse })),
    );
    assert.equal(outcomes.filter((outcome) => outcome.status === "fulfilled").length, 1);
  });

  it("refuses a counter that goes backwards, or stands still, with its own rejection, and keeps the stored counter", async () => {
    const authenticator = createSoftwareAuthenticator();
    const { passkey } = await registered(authenticator);
    const credentialId = authenticator.credentials[0]?.id ?? "";
    authenticator.setSignCount(credentialId, 9);
    await logInWithPasskey(modules, authenticator);
    assert.equal(await signCountOf(passkey.id), 10);

    // A clone of the key that lags behind reports an older counter.
    for (const lagging of [4, 9]) {
      authenticator.setSignCount(credentialId, lagging);
      await assert.rejects(logInWithPasskey(modules, authenticator), (error: { rejection?: string; passkeyId?: string }) => {
        assert.equal(error.rejection, "PASSKEY_COUNTER_REGRESSED", `counter ${lagging + 1} after 10`);
        assert.equal(error.passkeyId, passkey.id, "the audit event can name the passkey");
        return true;
      });
    }
    assert.equal(await signCountOf(passkey.id), 10);
    // The genuine authenticator, ahead of the stored counter, still signs in.
    authenticator.setSignCount(credentialId, 10);
    await logInWithPasskey(modules, authenticator);
    assert.equal(await signCountOf(passkey.id), 11);
  });

  it("refuses an unknown credential and malformed responses", async () => {
    // The stranger's authenticator makes a credential, but registration is never finished.
    const stranger = createSoftwareAuthenticator();
    const userId = await harness.createAccount();
    const ceremony = await modules.passkeys.beginRegistration(userId, { name: "jo@example.com", displayName: "" });
    stranger.register(ceremony.optionsJson, browser);
    const login = await modules.passkeys.beginLogin();
    await assertRefused(
      modules.passkeys.finishLogin({ ceremonyId: login.ceremonyId, responseJson: stranger.authenticate(login.optionsJson, browser) }),
      Code.Unauthenticated,
      "PASSKEY_UNKNOWN",
    );
    for (const responseJson of ["[]", '{"id":"abc"}', "{", '{"id":"a","rawId":"a","type":"password","response":{}}']) {
      const malformed = await modules.passkeys.beginLogin();
      await assertRefused(modules.passkeys.finishLogin({ ceremonyId: malformed.ceremonyId, responseJson }), Code.InvalidArgument);
    }
  });

  it("answers an MFA challenge only for its own account and attempt", async () => {
    const authenticator = createSoftwareAuthenticator();
    const { userId, passkey } = await registered(authenticator);
    const challenge = await modules.secondFactors.challengeFor(userId, "attempt-a");
    assert.deepEqual(challenge.methods, [MfaMethod.PASSKEY]);
    const options = JSON.parse(challenge.passkeyOptionsJson);
    assert.deepEqual(
      options.allowCredentials.map((credential: { id: string }) => credential.id),
      [passkey.credentialId],
    );
    assert.equal(options.userVerification, "required");

    const answer = { method: MfaMethod.PASSKEY, responseJson: authenticator.authenticate(challenge.passkeyOptionsJson, browser) } as const;
    // Another attempt of the same account has no challenge this assertion signed.
    await modules.secondFactors.challengeFor(userId, "attempt-b");
    await assertRefused(
      modules.secondFactors.verifyChallengeAnswer(userId, answer, "attempt-b"),
      Code.Unauthenticated,
      "PASSKEY_VERIFICATION_FAILED",
    );
    const verified = await modules.secondFactors.verifyChallengeAnswer(userId, answer, "attempt-a");
    assert.deepEqual(verified, { method: MfaMethod.PASSKEY, authenticationMethod: AuthenticationMethod.PASSKEY, passkeyId: passkey.id });
    await assertRefused(
      modules.secondFactors.verifyChallengeAnswer(userId, answer, "attempt-a"),
      Code.Unauthenticated,
      "PASSKEY_CHALLENGE_UNKNOWN",
    );

    // Mallory, with her own passkey, cannot answer Frank's challenge, nor Frank's passkey hers.
    const malloryAuthenticator = createSoftwareAuthenticator();
    const mallory = await registered(malloryAuthenticator);
    // An authenticator that ignores allowCredentials signs with the wrong account's passkey.
    const answerWithAnotherPasskey = async (challengedUserId: string, attemptId: string, signer: SoftwareAuthenticator) => {
      const options = JSON.parse((await modules.secondFactors.challengeFor(challengedUserId, attemptId)).passkeyOptionsJson);
      delete options.allowCredentials;
      const answer = { method: MfaMethod.PASSKEY, responseJson: signer.authenticate(JSON.stringify(options), browser) } as const;
      await assertRefused(
        modules.secondFactors.verifyChallengeAnswer(challengedUserId, answer, attemptId),
        Code.Unauthenticated,
        "PASSKEY_UNKNOWN",
      );
    };
    await answerWithAnotherPasskey(userId, "attempt-c", malloryAuthenticator);
    await answerWithAnotherPasskey(mallory.userId, "attempt-d", authenticator);
  });

  it("holds the per-account passkey limit, also against parallel registrations", async () => {
    const limited = harness.modules({ settings: { passkeysPerUserMax: 2 } });
    const userId = await harness.createAccount();
    const ceremonies = await Promise.all(
      Array.from({ length: 2 }, () => limited.passkeys.beginRegistration(userId, { name: "kim@example.com", displayName: "" })),
    );
    // Begun while the account had none, finished together with a third.
    const extra = await limited.passkeys.beginRegistration(userId, { name: "kim@example.com", displayName: "" });
    const outcomes = await Promise.allSettled(
      [...ceremonies, extra].map((ceremony) =>
        limited.passkeys.finishRegistration(userId, {
          ceremonyId: ceremony.ceremonyId,
          responseJson: createSoftwareAuthenticator().register(ceremony.optionsJson, browser),
          name: "",
        }),
      ),
    );
    assert.equal(outcomes.filter((outcome) => outcome.status === "fulfilled").length, 2);
    assert.equal(await limited.passkeys.count(userId), 2);
    await assertRefused(limited.passkeys.beginRegistration(userId, { name: "kim@example.com", displayName: "" }), Code.FailedPrecondition);
  });
});
