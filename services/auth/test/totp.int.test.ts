// Goal: TOTP against real Postgres and Redis: setup → confirm → verify works;
// a wrong code, a replayed code, an older step after a newer one and a code
// outside the ±1 step window are refused; parallel uses of one code let
// exactly one through; the secret is stored sealed, never in plain text;
// confirm, setup and disable refuse steps out of order and change nothing
// when refused; wrong codes are bounded per account.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { MfaMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { Secret, TOTP } from "otpauth";
import type { SecondFactorModules } from "../src/mfa/second-factors.ts";
import { totpPeriodSeconds } from "../src/mfa/totp.ts";
import { assertRefused, type SecondFactorHarness, startSecondFactorHarness } from "./support/second-factor-harness.ts";

const periodMs = totpPeriodSeconds * 1000;

/** The code an authenticator app shows for `secret` at `timestampMs`. */
function codeAt(secret: string, timestampMs: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: timestampMs });
}

describe("TOTP (real Postgres and Redis)", function () {
  this.timeout(60_000);
  let harness: SecondFactorHarness;
  let modules: SecondFactorModules;
  /** A moment in the middle of a step, so ±1 step arithmetic below is exact. */
  const start = Math.floor(Date.now() / periodMs) * periodMs + periodMs / 2;

  before(async () => {
    harness = await startSecondFactorHarness("auth_totp");
    modules = harness.modules();
  });

  after(async () => {
    await harness?.stop();
  });

  beforeEach(() => {
    harness.clock.nowMs = start;
  });

  /** An account with TOTP confirmed at `start`; returns its id, secret and recovery codes. */
  async function enrolled() {
    const userId = await harness.createAccount();
    const setup = await modules.totp.setup(userId, "alice@example.com");
    const { recoveryCodes } = await modules.totp.confirm(userId, codeAt(setup.secret, start));
    return { userId, secret: setup.secret, recoveryCodes };
  }

  it("sets up a pending secret with an otpauth URI, stored sealed rather than in plain text", async () => {
    const userId = await harness.createAccount();
    const setup = await modules.totp.setup(userId, "alice@example.com");
    assert.match(setup.secret, /^[A-Z2-7]{32}$/, "160 bits in base32 without padding");
    const uri = new URL(setup.otpauthUri);
    assert.equal(uri.protocol, "otpauth:");
    assert.equal(uri.host, "totp");
    assert.equal(decodeURIComponent(uri.pathname), "/Trustmesh:alice@example.com");
    assert.equal(uri.searchParams.get("secret"), setup.secret);
    assert.equal(uri.searchParams.get("issuer"), "Trustmesh");
    assert.deepEqual(
      [uri.searchParams.get("algorithm"), uri.searchParams.get("digits"), uri.searchParams.get("period")],
      ["SHA1", "6", "30"],
    );
    assert.equal(setup.expiresAt.getTime(), start + 600_000);

    const { rows } = await harness.sql.query<{ id: string; secret_sealed: Buffer; confirmed_at: Date | null }>(
      "SELECT id, secret_sealed, confirmed_at FROM totp_credential WHERE user_id = $1",
      [userId],
    );
    assert.equal(rows.length, 1);
    const [row] = rows;
    assert.ok(row);
    const rawSecret = Buffer.from(Secret.fromBase32(setup.secret).buffer);
    assert.equal(row.secret_sealed.indexOf(rawSecret), -1, "the raw secret bytes are not in the row");
    assert.ok(!row.secret_sealed.toString("latin1").includes(setup.secret), "the base32 secret is not in the row");
    assert.equal(row.confirmed_at, null, "pending until confirmed");
    // It is the sealer's ciphertext, bound to this row and account.
    assert.deepEqual(harness.sealer.open(row.secret_sealed, `totp_credential:${row.id}:${userId}`), rawSecret);
    assert.throws(() => harness.sealer.open(row.secret_sealed, `totp_credential:${row.id}:another-account`));
    assert.equal(await modules.totp.isEnabled(userId), false);
    assert.deepEqual(await modules.secondFactors.methodsFor(userId), [], "a pending secret is no second factor yet");
  });

  it("confirms with a valid code, hands out ten recovery codes, then verifies a later code", async () => {
    const { userId, secret, recoveryCodes } = await enrolled();
    assert.equal(recoveryCodes.length, 10);
    assert.equal(new Set(recoveryCodes).size, 10);
    for (const code of recoveryCodes) assert.match(code, /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
    assert.equal(await modules.totp.isEnabled(userId), true);
    assert.deepEqual(await modules.secondFactors.methodsFor(userId), [MfaMethod.TOTP, MfaMethod.RECOVERY_CODE]);

    harness.clock.nowMs = start + periodMs;
    await modules.totp.verify(userId, codeAt(secret, start + periodMs));
  });

  it("refuses a wrong code", async () => {
    const { userId, secret } = await enrolled();
    harness.clock.nowMs = start + periodMs;
    const right = codeAt(secret, start + periodMs);
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, "0");
    await assertRefused(modules.totp.verify(userId, wrong), Code.Unauthenticated, "TOTP_CODE_INVALID");
    await assertRefused(modules.totp.verify(userId, "12345"), Code.Unauthenticated, "TOTP_CODE_INVALID");
    await modules.totp.verify(userId, right);
  });

  it("refuses the same code replayed inside its window, and the confirming code at login", async () => {
    const { userId, secret } = await enrolled();
    // The code that confirmed enrolment is used up.
    await assertRefused(modules.totp.verify(userId, codeAt(secret, start)), Code.Unauthenticated, "TOTP_CODE_REPLAYED");

    harness.clock.nowMs = start + periodMs;
    const code = codeAt(secret, start + periodMs);
    await modules.totp.verify(userId, code);
    await assertRefused(modules.totp.verify(userId, code), Code.Unauthenticated, "TOTP_CODE_REPLAYED");
    // Still inside its window one step later, and still refused.
    harness.clock.nowMs = start + 2 * periodMs;
    await assertRefused(modules.totp.verify(userId, code), Code.Unauthenticated, "TOTP_CODE_REPLAYED");
  });

  it("accepts codes one step either side of now, but only for a step newer than the last accepted", async () => {
    const { userId, secret } = await enrolled();
    const now = start + 10 * periodMs;
    harness.clock.nowMs = now;
    await assertRefused(modules.totp.verify(userId, codeAt(secret, now - 2 * periodMs)), Code.Unauthenticated, "TOTP_CODE_INVALID");
    await assertRefused(modules.totp.verify(userId, codeAt(secret, now + 2 * periodMs)), Code.Unauthenticated, "TOTP_CODE_INVALID");
    await modules.totp.verify(userId, codeAt(secret, now - periodMs));
    await modules.totp.verify(userId, codeAt(secret, now + periodMs));
    // The current step's code was never used, but it is older than the accepted step now+1.
    await assertRefused(modules.totp.verify(userId, codeAt(secret, now)), Code.Unauthenticated, "TOTP_CODE_REPLAYED");
  });

  it("lets exactly one of ten parallel uses of the same code through", async () => {
    const { userId, secret } = await enrolled();
    harness.clock.nowMs = start + periodMs;
    const code = codeAt(secret, start + periodMs);
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => modules.totp.verify(userId, code)));
    assert.equal(outcomes.filter((outcome) => outcome.status === "fulfilled").length, 1);
  });

  it("refuses confirm without a pending secret, after it expired, or with a wrong code, and changes nothing", async () => {
    const userId = await harness.createAccount();
    await assertRefused(modules.totp.confirm(userId, "123456"), Code.FailedPrecondition);

    const setup = await modules.totp.setup(userId, "bob@example.com");
    const wrong = String((Number(codeAt(setup.secret, start)) + 1) % 1_000_000).padStart(6, "0");
    await assertRefused(modules.totp.confirm(userId, wrong), Code.Unauthenticated, "TOTP_CODE_INVALID");
    assert.equal(await modules.totp.isEnabled(userId), false);

    harness.clock.nowMs = start + 600_000;
    await assertRefused(modules.totp.confirm(userId, codeAt(setup.secret, start + 600_000)), Code.FailedPrecondition);
    assert.equal(await modules.totp.isEnabled(userId), false);
    assert.equal(await modules.recoveryCodes.remaining(userId), 0);
  });

  it("replaces a pending secret on a second setup, and refuses setup once TOTP is on", async () => {
    const userId = await harness.createAccount();
    const first = await modules.totp.setup(userId, "carol@example.com");
    const second = await modules.totp.setup(userId, "carol@example.com");
    assert.notEqual(first.secret, second.secret);
    await assertRefused(modules.totp.confirm(userId, codeAt(first.secret, start)), Code.Unauthenticated, "TOTP_CODE_INVALID");
    await modules.totp.confirm(userId, codeAt(second.secret, start));
    await assertRefused(modules.totp.setup(userId, "carol@example.com"), Code.FailedPrecondition);
    harness.clock.nowMs = start + periodMs;
    await modules.totp.verify(userId, codeAt(second.secret, start + periodMs));
  });

  it("disables with a current code or a recovery code, deleting the recovery codes; refuses a wrong proof and changes nothing", async () => {
    const byCode = await enrolled();
    harness.clock.nowMs = start + periodMs;
    await assertRefused(
      modules.totp.disable(byCode.userId, { case: "totpCode", value: codeAt(byCode.secret, start) }),
      Code.Unauthenticated,
      "TOTP_CODE_REPLAYED",
    );
    assert.equal(await modules.totp.isEnabled(byCode.userId), true);
    assert.equal(await modules.recoveryCodes.remaining(byCode.userId), 10);
    await modules.totp.disable(byCode.userId, { case: "totpCode", value: codeAt(byCode.secret, start + periodMs) });
    assert.equal(await modules.totp.isEnabled(byCode.userId), false);
    assert.equal(await modules.recoveryCodes.remaining(byCode.userId), 0);
    assert.deepEqual(await modules.secondFactors.methodsFor(byCode.userId), []);
    await assertRefused(modules.totp.disable(byCode.userId, { case: "totpCode", value: "123456" }), Code.FailedPrecondition);

    harness.clock.nowMs = start;
    const byRecovery = await enrolled();
    await assertRefused(
      modules.totp.disable(byRecovery.userId, { case: "recoveryCode", value: "0000-0000-0000" }),
      Code.Unauthenticated,
      "RECOVERY_CODE_INVALID",
    );
    assert.equal(await modules.totp.isEnabled(byRecovery.userId), true);
    await modules.totp.disable(byRecovery.userId, { case: "recoveryCode", value: byRecovery.recoveryCodes[3] ?? "" });
    assert.equal(await modules.totp.isEnabled(byRecovery.userId), false);
    const { rows } = await harness.sql.query("SELECT 1 FROM recovery_code WHERE user_id = $1", [byRecovery.userId]);
    assert.equal(rows.length, 0, "the recovery codes are deleted, not just marked");
  });

  it("refuses every code, right ones included, once an account's attempts are spent, even in parallel", async () => {
    const limited = harness.modules({ settings: { codeAttemptsMax: 5 } });
    const userId = await harness.createAccount();
    const setup = await limited.totp.setup(userId, "dave@example.com");
    await limited.totp.confirm(userId, codeAt(setup.secret, start));
    harness.clock.nowMs = start + periodMs;
    const wrong = String((Number(codeAt(setup.secret, start + periodMs)) + 1) % 1_000_000).padStart(6, "0");
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => limited.totp.verify(userId, wrong)));
    const reasons = outcomes.map((outcome) => (outcome.status === "rejected" ? (outcome.reason as { code: Code }).code : "accepted"));
    assert.equal(reasons.filter((code) => code === Code.Unauthenticated).length, 5, "exactly five codes were checked");
    assert.equal(reasons.filter((code) => code === Code.ResourceExhausted).length, 15);
    await assertRefused(limited.totp.verify(userId, codeAt(setup.secret, start + periodMs)), Code.ResourceExhausted);
    assert.ok((await harness.redis.pttl(`auth:mfa:code-attempts:${userId}`)) > 0, "the lock-out expires");
  });
});
