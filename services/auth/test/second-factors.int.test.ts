// Goal: the SecondFactors facade that Login, CompleteMfa and GetMe use: an
// account's methods come strongest first and only for factors it really has;
// a challenge carries passkey options only when passkeys are among them;
// every kind of answer from CompleteMfa's proof is checked and used up; the
// summary counts what GetMe shows.
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { AuthenticationMethod, MfaMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { CompleteMfaRequestSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { Secret, TOTP } from "otpauth";
import { answerFromProof, type SecondFactorModules } from "../src/mfa/second-factors.ts";
import {
  assertRefused,
  registerPasskey,
  type SecondFactorHarness,
  startSecondFactorHarness,
  testOrigin,
} from "./support/second-factor-harness.ts";
import { createSoftwareAuthenticator } from "./support/software-authenticator.ts";

describe("SecondFactors facade (real Postgres and Redis)", function () {
  this.timeout(60_000);
  let harness: SecondFactorHarness;
  let modules: SecondFactorModules;

  before(async () => {
    harness = await startSecondFactorHarness("auth_second_factors");
    modules = harness.modules();
  });

  after(async () => {
    await harness?.stop();
  });

  it("offers nothing to an account without factors, so Login issues tokens", async () => {
    const userId = await harness.createAccount();
    assert.deepEqual(await modules.secondFactors.methodsFor(userId), []);
    assert.deepEqual(await modules.secondFactors.challengeFor(userId, "attempt"), { methods: [], passkeyOptionsJson: "" });
    const summary = await modules.secondFactors.summaryFor(userId);
    assert.deepEqual([summary.mfa.totpEnabled, summary.mfa.recoveryCodesRemaining, summary.mfa.passkeyCount], [false, 0, 0]);
    assert.deepEqual(summary.passkeys, []);
  });

  it("offers passkey, TOTP and recovery code, strongest first, and accepts each answer from CompleteMfa's proof once", async () => {
    const userId = await harness.createAccount();
    const setup = await modules.totp.setup(userId, "lena@example.com");
    const secret = Secret.fromBase32(setup.secret);
    const period = 30_000;
    const start = Math.floor(Date.now() / period) * period + period / 2;
    harness.clock.nowMs = start;
    const { recoveryCodes } = await modules.totp.confirm(userId, TOTP.generate({ secret, timestamp: start }));
    const authenticator = createSoftwareAuthenticator();
    await registerPasskey(modules, userId, authenticator, "Lena's phone");

    const challenge = await modules.secondFactors.challengeFor(userId, "login-1");
    assert.deepEqual(challenge.methods, [MfaMethod.PASSKEY, MfaMethod.TOTP, MfaMethod.RECOVERY_CODE]);
    assert.ok(challenge.passkeyOptionsJson.length > 0);

    harness.clock.nowMs = start + period;
    const proofs = [
      { case: "totpCode", value: TOTP.generate({ secret, timestamp: start + period }) },
      { case: "recoveryCode", value: recoveryCodes[0] ?? "" },
      { case: "passkeyResponseJson", value: authenticator.authenticate(challenge.passkeyOptionsJson, { origin: testOrigin }) },
    ] as const;
    const expected = [AuthenticationMethod.TOTP, AuthenticationMethod.RECOVERY_CODE, AuthenticationMethod.PASSKEY];
    for (const [index, proof] of proofs.entries()) {
      const answer = answerFromProof(create(CompleteMfaRequestSchema, { mfaToken: "x".repeat(16), proof }).proof);
      const verified = await modules.secondFactors.verifyChallengeAnswer(userId, answer, "login-1");
      assert.equal(verified.authenticationMethod, expected[index]);
      await assertRefused(modules.secondFactors.verifyChallengeAnswer(userId, answer, "login-1"), Code.Unauthenticated);
    }

    const summary = await modules.secondFactors.summaryFor(userId);
    assert.deepEqual([summary.mfa.totpEnabled, summary.mfa.recoveryCodesRemaining, summary.mfa.passkeyCount], [true, 9, 1]);
    assert.equal(summary.passkeys[0]?.name, "Lena's phone");
    assert.ok(summary.passkeys[0]?.lastUsedAt);
  });

  it("stops offering recovery codes when none is left", async () => {
    const userId = await harness.createAccount();
    harness.clock.nowMs = null;
    const setup = await modules.totp.setup(userId, "max@example.com");
    const { recoveryCodes } = await modules.totp.confirm(userId, TOTP.generate({ secret: Secret.fromBase32(setup.secret) }));
    for (const code of recoveryCodes) await modules.recoveryCodes.redeem(userId, code);
    assert.deepEqual(await modules.secondFactors.methodsFor(userId), [MfaMethod.TOTP]);
  });

  it("refuses a proof-less CompleteMfa request and passkey JSON that is not JSON, naming the field", async () => {
    assert.throws(
      () => answerFromProof({ case: undefined }),
      (error: { code: Code; message: string }) => {
        assert.equal(error.code, Code.InvalidArgument);
        assert.match(error.message, /^proof:/);
        return true;
      },
    );
    const userId = await harness.createAccount();
    await registerPasskey(modules, userId, createSoftwareAuthenticator());
    await modules.secondFactors.challengeFor(userId, "login-2");
    await assert.rejects(
      modules.secondFactors.verifyChallengeAnswer(userId, { method: MfaMethod.PASSKEY, responseJson: "{" }, "login-2"),
      (error: { code: Code; message: string }) => {
        assert.equal(error.code, Code.InvalidArgument);
        assert.match(error.message, /^passkey_response_json:/);
        return true;
      },
    );
  });
});
