// Goal: recovery codes against real Postgres and Redis: each works exactly
// once, also when the same code is presented in parallel (exactly one wins);
// input ignores case and dashes; a code of another account, a made-up code and
// a used code are refused; rows hold keyed hashes, never the codes; codes
// hashed before a key rotation still work while the old key stays in the ring.
import assert from "node:assert/strict";
import { createHmac, hkdfSync, randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { MfaMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { Secret, TOTP } from "otpauth";
import type { SecondFactorModules } from "../src/mfa/second-factors.ts";
import { assertRefused, type SecondFactorHarness, startSecondFactorHarness } from "./support/second-factor-harness.ts";

describe("recovery codes (real Postgres and Redis)", function () {
  this.timeout(60_000);
  let harness: SecondFactorHarness;
  let modules: SecondFactorModules;

  before(async () => {
    harness = await startSecondFactorHarness("auth_recovery_codes");
    modules = harness.modules();
  });

  after(async () => {
    await harness?.stop();
  });

  async function enrolled(using = modules) {
    const userId = await harness.createAccount();
    const setup = await using.totp.setup(userId, "erin@example.com");
    const { recoveryCodes } = await using.totp.confirm(userId, TOTP.generate({ secret: Secret.fromBase32(setup.secret) }));
    return { userId, recoveryCodes };
  }

  it("accepts a code exactly once, ignoring case and dashes, and counts what is left", async () => {
    const { userId, recoveryCodes } = await enrolled();
    const [code = ""] = recoveryCodes;
    await modules.recoveryCodes.redeem(userId, code.replaceAll("-", "").toUpperCase());
    assert.equal(await modules.recoveryCodes.remaining(userId), 9);
    await assertRefused(modules.recoveryCodes.redeem(userId, code), Code.Unauthenticated, "RECOVERY_CODE_INVALID");
    assert.equal(await modules.recoveryCodes.remaining(userId), 9);
    // Through the facade, as CompleteMfa uses it.
    const answer = { method: MfaMethod.RECOVERY_CODE, code: recoveryCodes[1] ?? "" } as const;
    const verified = await modules.secondFactors.verifyChallengeAnswer(userId, answer, "attempt-1");
    assert.equal(verified.method, MfaMethod.RECOVERY_CODE);
    await assertRefused(
      modules.secondFactors.verifyChallengeAnswer(userId, answer, "attempt-2"),
      Code.Unauthenticated,
      "RECOVERY_CODE_INVALID",
    );
    assert.equal((await modules.secondFactors.summaryFor(userId)).mfa.recoveryCodesRemaining, 8);
  });

  it("lets exactly one of twenty parallel redemptions of the same code win", async () => {
    const { userId, recoveryCodes } = await enrolled();
    const code = recoveryCodes[0] ?? "";
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => modules.recoveryCodes.redeem(userId, code)));
    assert.equal(outcomes.filter((outcome) => outcome.status === "fulfilled").length, 1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") assert.equal((outcome.reason as { rejection: string }).rejection, "RECOVERY_CODE_INVALID");
    }
    const { rows } = await harness.sql.query<{ used: number }>(
      "SELECT count(*)::int AS used FROM recovery_code WHERE user_id = $1 AND used_at IS NOT NULL",
      [userId],
    );
    assert.equal(rows[0]?.used, 1);
  });

  it("refuses another account's code, a made-up code and malformed input", async () => {
    const alice = await enrolled();
    const bob = await enrolled();
    await assertRefused(
      modules.recoveryCodes.redeem(bob.userId, alice.recoveryCodes[0] ?? ""),
      Code.Unauthenticated,
      "RECOVERY_CODE_INVALID",
    );
    await assertRefused(modules.recoveryCodes.redeem(bob.userId, "zzzz-zzzz-zzzz"), Code.Unauthenticated, "RECOVERY_CODE_INVALID");
    await assertRefused(modules.recoveryCodes.redeem(bob.userId, "not a code"), Code.Unauthenticated, "RECOVERY_CODE_INVALID");
    assert.equal(await modules.recoveryCodes.remaining(alice.userId), 10);
    await modules.recoveryCodes.redeem(alice.userId, alice.recoveryCodes[0] ?? "");
  });

  it("stores an HMAC-SHA-256 of each code under a key derived from the key-encryption key, never the code", async () => {
    const { userId, recoveryCodes } = await enrolled();
    const { rows } = await harness.sql.query<{ code_hash: Buffer }>("SELECT code_hash FROM recovery_code WHERE user_id = $1", [userId]);
    assert.equal(rows.length, 10);
    const [[, keyEncryptionKey = Buffer.alloc(0)] = []] = [...harness.keyRing];
    const hmacKey = Buffer.from(hkdfSync("sha256", keyEncryptionKey, Buffer.alloc(0), "trustmesh auth recovery-code hmac v1", 32));
    const expected = recoveryCodes.map((code) =>
      createHmac("sha256", hmacKey)
        .update(`${userId}:${code.replaceAll("-", "")}`)
        .digest("hex"),
    );
    const stored = rows.map((row) => row.code_hash.toString("hex"));
    assert.deepEqual([...stored].sort(), [...expected].sort());
    for (const code of recoveryCodes) {
      for (const row of rows) assert.equal(row.code_hash.indexOf(Buffer.from(code.replaceAll("-", ""))), -1);
    }
  });

  it("still accepts codes hashed under a retired key while that key stays in the ring", async () => {
    const { userId, recoveryCodes } = await enrolled();
    const rotated = new Map(harness.keyRing);
    rotated.set("local-2", randomBytes(32));
    const afterRotation = harness.modules({ keyRing: rotated, activeKeyId: "local-2" });
    await afterRotation.recoveryCodes.redeem(userId, recoveryCodes[0] ?? "");
    // New codes issued after the rotation are hashed under the new key only.
    const fresh = await enrolled(afterRotation);
    await assertRefused(modules.recoveryCodes.redeem(fresh.userId, fresh.recoveryCodes[0] ?? ""), Code.Unauthenticated);
    await afterRotation.recoveryCodes.redeem(fresh.userId, fresh.recoveryCodes[0] ?? "");
  });
});
