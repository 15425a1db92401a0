// Goal: TOTP and recovery codes over the network, through the real auth
// process on real Postgres and Redis: SetupTotp → ConfirmTotp (recovery codes
// shown once) → Login answers with an MFA challenge → CompleteMfa refuses a
// wrong code and a replayed one and accepts a newer code, once; a recovery
// code signs in once; DisableTotp needs a proof; wrong codes are bounded per
// account and per challenge; every refusal is audited with its precise reason
// and counted in auth_mfa_total; every TOTP RPC refuses bad input and callers
// without a live session, changing nothing. The codes come from `otpauth`, as
// an authenticator app would make them, for the steps around the real clock.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import { AuthenticationMethod, MfaMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { decodeJwt } from "jose";
import { Secret, TOTP } from "otpauth";
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

const periodMs = 30_000;

/** The code an authenticator app shows for `secret` in time step `step`. */
function codeForStep(secret: string, step: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: step * periodMs });
}

const currentStep = () => Math.floor(Date.now() / periodMs);

/** A six-digit code that is none of the codes the ±1-step window accepts now. */
function wrongCode(secret: string): string {
  const window = [-1, 0, 1].map((offset) => codeForStep(secret, currentStep() + offset));
  let candidate = Number(window[1]);
  do candidate = (candidate + 1) % 1_000_000;
  while (window.includes(String(candidate).padStart(6, "0")));
  return String(candidate).padStart(6, "0");
}

/**
 * A user with TOTP on. `nextStep()` gives a step newer than any accepted so
 * far and still inside the window, as a user waiting for the next code would.
 */
async function enrolledUser(auth: AuthHarness) {
  const user = await signedInUser(auth, uniqueEmail("totp"));
  const setup = await auth.client.setupTotp({}, bearer(user.tokens.accessToken));
  let lastStep = currentStep();
  const { recoveryCodes } = await auth.client.confirmTotp({ code: codeForStep(setup.secret, lastStep) }, bearer(user.tokens.accessToken));
  return {
    ...user,
    userId: decodeJwt(user.tokens.accessToken).sub as string,
    secret: setup.secret,
    recoveryCodes,
    lastStep: () => lastStep,
    nextStep: () => {
      lastStep = Math.max(lastStep + 1, currentStep() - 1);
      return lastStep;
    },
  };
}

async function passwordLogin(auth: AuthHarness, email: string, password: string) {
  return auth.client.login({ identifier: { case: "email", value: email }, password, deviceName: "phone" });
}

async function mfaTokenOf(auth: AuthHarness, email: string, password: string): Promise<string> {
  const login = await passwordLogin(auth, email, password);
  assert.equal(login.result.case, "mfaChallenge");
  return login.result.value.mfaToken;
}

async function auditOf(auth: AuthHarness, userId: string, kind: string) {
  const rows = await auth.database.query<{ detail: Record<string, string> }>(
    "SELECT detail FROM audit_event WHERE user_id = $1 AND kind = $2 ORDER BY id",
    [userId, kind],
  );
  return rows.rows.map((row) => row.detail);
}

describe("auth: TOTP and recovery codes over the network", function () {
  this.timeout(120_000);
  const auth = useAuth({
    ...relaxedLimits,
    AUTH_MFA_ATTEMPTS_MAX: "3",
    AUTH_MFA_CODE_ATTEMPTS_MAX: "4",
    AUTH_TOTP_ISSUER: "Trustmesh Test",
  });

  it("sets up and confirms TOTP, then Login needs it: a wrong and a replayed code are refused, a newer code finishes once", async () => {
    const { email, password, tokens } = await signedInUser(auth, uniqueEmail("totp"));
    const userId = decodeJwt(tokens.accessToken).sub as string;
    const before = await metricValue(auth, "auth_mfa_total", { method: "totp", outcome: "replayed" });

    const setup = await auth.client.setupTotp({}, bearer(tokens.accessToken));
    assert.match(setup.secret, /^[A-Z2-7]{32}$/);
    const uri = new URL(setup.otpauthUri);
    assert.equal(uri.protocol, "otpauth:");
    assert.equal(decodeURIComponent(uri.pathname), `/Trustmesh Test:${email}`);
    assert.equal(uri.searchParams.get("secret"), setup.secret);
    assert.ok(Number(setup.expiresAt?.seconds) > Date.now() / 1000);
    // A pending secret is no second factor yet.
    assert.equal((await passwordLogin(auth, email, password)).result.case, "tokens");

    await rejectsWith(
      auth.client.confirmTotp({ code: wrongCode(setup.secret) }, bearer(tokens.accessToken)),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    assert.equal((await auth.client.getMe({}, bearer(tokens.accessToken))).user?.mfa?.totpEnabled, false);
    const confirmStep = currentStep();
    const { recoveryCodes } = await auth.client.confirmTotp({ code: codeForStep(setup.secret, confirmStep) }, bearer(tokens.accessToken));
    assert.equal(recoveryCodes.length, 10);
    for (const code of recoveryCodes) assert.match(code, /^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
    const me = await auth.client.getMe({}, bearer(tokens.accessToken));
    assert.equal(me.user?.mfa?.totpEnabled, true);
    assert.equal(me.user?.mfa?.recoveryCodesRemaining, 10);

    const login = await passwordLogin(auth, email, password);
    assert.equal(login.result.case, "mfaChallenge");
    const challenge = login.result.value;
    assert.deepEqual(challenge.methods, [MfaMethod.TOTP, MfaMethod.RECOVERY_CODE]);
    assert.equal(challenge.passkeyOptionsJson, "");
    assert.ok(Number(challenge.expiresAt?.seconds) > Date.now() / 1000);

    const mfaToken = challenge.mfaToken;
    await rejectsWith(
      auth.client.completeMfa({ mfaToken, proof: { case: "totpCode", value: wrongCode(setup.secret) } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    // The code that confirmed enrolment was used: its step is not newer than the last accepted one.
    await rejectsWith(
      auth.client.completeMfa({ mfaToken, proof: { case: "totpCode", value: codeForStep(setup.secret, confirmStep) } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    const newer = codeForStep(setup.secret, Math.max(confirmStep + 1, currentStep() - 1));
    const done = await auth.client.completeMfa({ mfaToken, proof: { case: "totpCode", value: newer } });
    assert.ok(done.tokens);
    assert.deepEqual(decodeJwt(done.tokens.accessToken).amr, ["pwd", "otp", "mfa"]);
    const session = (await auth.client.getMe({}, bearer(done.tokens.accessToken))).session;
    assert.deepEqual(session?.authenticationMethods, [AuthenticationMethod.PASSWORD, AuthenticationMethod.TOTP]);
    assert.equal(session?.device?.name, "phone");
    // The challenge is single use, and so is the code, in any later challenge.
    await rejectsWith(
      auth.client.completeMfa({ mfaToken, proof: { case: "totpCode", value: newer } }),
      Code.Unauthenticated,
      "MFA_TOKEN_INVALID",
    );
    await rejectsWith(
      auth.client.completeMfa({ mfaToken: await mfaTokenOf(auth, email, password), proof: { case: "totpCode", value: newer } }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );

    // The audit trail names each refusal precisely; the caller saw one error for all of them.
    const failures = await auditOf(auth, userId, "mfa_failed");
    assert.deepEqual(
      failures.map((detail) => [detail.during, detail.rejection]),
      [
        ["confirm_totp", "TOTP_CODE_INVALID"],
        ["complete_mfa", "TOTP_CODE_INVALID"],
        ["complete_mfa", "TOTP_CODE_REPLAYED"],
        ["complete_mfa", "TOTP_CODE_REPLAYED"],
      ],
    );
    assert.equal((await auditOf(auth, userId, "totp_enabled")).length, 1);
    assert.deepEqual(
      (await auditOf(auth, userId, "mfa_succeeded")).map((detail) => detail.method),
      ["totp"],
    );
    assert.equal(await metricValue(auth, "auth_mfa_total", { method: "totp", outcome: "replayed" }), (before ?? 0) + 2);
    assert.ok(((await metricValue(auth, "auth_mfa_total", { method: "totp", outcome: "succeeded" })) ?? 0) >= 2);
    const notices = (await auth.messagesFor(email)).filter((message) => message.kind === "second_factor_changed");
    assert.equal(notices.length, 1);
    assert.match(notices[0]?.text ?? "", /TOTP was turned on/);
  });

  it("signs in with a recovery code once, in place of TOTP; the used code is refused after", async () => {
    const user = await enrolledUser(auth);
    const [first] = user.recoveryCodes;
    assert.ok(first);
    // Typed from paper: capitals, no dashes.
    const typed = first.replaceAll("-", "").toUpperCase();
    const done = await auth.client.completeMfa({
      mfaToken: await mfaTokenOf(auth, user.email, user.password),
      proof: { case: "recoveryCode", value: typed },
    });
    assert.deepEqual(decodeJwt(done.tokens?.accessToken ?? "").amr, ["pwd", "rc", "mfa"]);
    assert.equal((await auth.client.getMe({}, bearer(done.tokens?.accessToken ?? ""))).user?.mfa?.recoveryCodesRemaining, 9);
    await rejectsWith(
      auth.client.completeMfa({
        mfaToken: await mfaTokenOf(auth, user.email, user.password),
        proof: { case: "recoveryCode", value: first },
      }),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    assert.deepEqual(
      (await auditOf(auth, user.userId, "mfa_failed")).map((detail) => detail.rejection),
      ["RECOVERY_CODE_INVALID"],
    );
  });

  it("turns TOTP off only with a proof; afterwards the password alone signs in", async () => {
    const user = await enrolledUser(auth);
    const access = bearer(user.tokens.accessToken);
    await rejectsWith(
      auth.client.disableTotp({ proof: { case: "totpCode", value: wrongCode(user.secret) } }, access),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    await rejectsWith(
      auth.client.disableTotp({ proof: { case: "recoveryCode", value: "0000-0000-0000" } }, access),
      Code.Unauthenticated,
      "SECOND_FACTOR_REJECTED",
    );
    assert.equal((await auth.client.getMe({}, access)).user?.mfa?.totpEnabled, true, "a refused DisableTotp changes nothing");

    const disabled = await auth.client.disableTotp(
      { proof: { case: "totpCode", value: codeForStep(user.secret, user.nextStep()) } },
      access,
    );
    assert.equal(disabled.mfa?.totpEnabled, false);
    assert.equal(disabled.mfa?.recoveryCodesRemaining, 0);
    assert.equal((await passwordLogin(auth, user.email, user.password)).result.case, "tokens");
    await rejectsWith(
      auth.client.disableTotp({ proof: { case: "recoveryCode", value: user.recoveryCodes[0] ?? "" } }, access),
      Code.FailedPrecondition,
      "TOTP_NOT_ENABLED",
    );
    assert.deepEqual(
      (await auditOf(auth, user.userId, "totp_disabled")).map((detail) => detail.proof),
      ["totp"],
    );
    const notices = (await auth.messagesFor(user.email)).filter((message) => message.kind === "second_factor_changed");
    assert.deepEqual(
      notices.map((message) => /TOTP was turned (on|off)/.exec(message.text)?.[1]),
      ["off", "on"],
    );

    // On again with a new secret: DisableTotp by a recovery code of the new set.
    const setup = await auth.client.setupTotp({}, access);
    assert.notEqual(setup.secret, user.secret);
    const again = await auth.client.confirmTotp({ code: codeForStep(setup.secret, currentStep()) }, access);
    assert.equal(
      again.recoveryCodes.some((code) => user.recoveryCodes.includes(code)),
      false,
    );
    const off = await auth.client.disableTotp({ proof: { case: "recoveryCode", value: again.recoveryCodes[3] ?? "" } }, access);
    assert.equal(off.mfa?.totpEnabled, false);
  });

  it("bounds wrong codes per account: past AUTH_MFA_CODE_ATTEMPTS_MAX even the right code is refused for a while", async () => {
    const user = await enrolledUser(auth);
    const access = bearer(user.tokens.accessToken);
    for (let attempt = 0; attempt < 4; attempt++) {
      await rejectsWith(
        auth.client.disableTotp({ proof: { case: "totpCode", value: wrongCode(user.secret) } }, access),
        Code.Unauthenticated,
        "SECOND_FACTOR_REJECTED",
      );
    }
    const exhausted = await rejectsWith(
      auth.client.disableTotp({ proof: { case: "totpCode", value: codeForStep(user.secret, user.nextStep()) } }, access),
      Code.ResourceExhausted,
      "MFA_CODE_ATTEMPTS_EXHAUSTED",
    );
    assert.ok(Number(exhausted.findDetails(ErrorInfoSchema)[0]?.metadata.retry_after_ms) > 0, "the answer says how long to wait");
    assert.equal((await auth.client.getMe({}, access)).user?.mfa?.totpEnabled, true);
    assert.deepEqual(
      (await auditOf(auth, user.userId, "mfa_failed")).map((detail) => detail.rejection).at(-1),
      "MFA_CODE_ATTEMPTS_EXHAUSTED",
    );
    assert.ok(((await metricValue(auth, "auth_mfa_total", { method: "totp", outcome: "exhausted" })) ?? 0) >= 1);
  });

  it("voids an mfa_token after AUTH_MFA_ATTEMPTS_MAX wrong answers, even for a right one after", async () => {
    const user = await enrolledUser(auth);
    const mfaToken = await mfaTokenOf(auth, user.email, user.password);
    for (let attempt = 0; attempt < 3; attempt++) {
      await rejectsWith(
        auth.client.completeMfa({ mfaToken, proof: { case: "recoveryCode", value: "zzzz-zzzz-zzzz" } }),
        Code.Unauthenticated,
        "SECOND_FACTOR_REJECTED",
      );
    }
    await rejectsWith(
      auth.client.completeMfa({ mfaToken, proof: { case: "recoveryCode", value: user.recoveryCodes[0] ?? "" } }),
      Code.Unauthenticated,
      "MFA_TOKEN_INVALID",
    );
    assert.ok(((await metricValue(auth, "auth_mfa_total", { method: "recovery_code", outcome: "invalid_token" })) ?? 0) >= 1);
    // The recovery code was not used up by the refused call.
    const done = await auth.client.completeMfa({
      mfaToken: await mfaTokenOf(auth, user.email, user.password),
      proof: { case: "recoveryCode", value: user.recoveryCodes[0] ?? "" },
    });
    assert.ok(done.tokens);
  });

  it("refuses bad input and callers without a live session at every TOTP RPC and CompleteMfa, changing nothing", async () => {
    const user = await signedInUser(auth, uniqueEmail("totp-bad"));
    const access = bearer(user.tokens.accessToken);
    await rejectsWith(auth.client.setupTotp({}), Code.Unauthenticated);
    await rejectsWith(auth.client.confirmTotp({ code: "123456" }), Code.Unauthenticated);
    await rejectsWith(auth.client.disableTotp({ proof: { case: "totpCode", value: "123456" } }), Code.Unauthenticated);

    await rejectsWith(auth.client.confirmTotp({ code: "123456" }, access), Code.FailedPrecondition, "TOTP_NOT_PENDING");
    await rejectsWith(
      auth.client.disableTotp({ proof: { case: "totpCode", value: "123456" } }, access),
      Code.FailedPrecondition,
      "TOTP_NOT_ENABLED",
    );
    const invalid = await rejectsWith(auth.client.confirmTotp({ code: "12ab56" }, access), Code.InvalidArgument);
    assert.match(invalid.message, /code/);
    await rejectsWith(auth.client.disableTotp({ proof: { case: undefined } }, access), Code.InvalidArgument);
    await rejectsWith(auth.client.disableTotp({ proof: { case: "recoveryCode", value: "no!" } }, access), Code.InvalidArgument);

    const setup = await auth.client.setupTotp({}, access);
    await auth.client.confirmTotp({ code: codeForStep(setup.secret, currentStep()) }, access);
    await rejectsWith(auth.client.setupTotp({}, access), Code.FailedPrecondition, "TOTP_ALREADY_ENABLED");
    const mfaToken = await mfaTokenOf(auth, user.email, user.password);
    await rejectsWith(auth.client.completeMfa({ mfaToken, proof: { case: undefined } }), Code.InvalidArgument);
    await rejectsWith(auth.client.completeMfa({ mfaToken: "short", proof: { case: "totpCode", value: "123456" } }), Code.InvalidArgument);
    await rejectsWith(auth.client.completeMfa({ mfaToken, proof: { case: "totpCode", value: "12345" } }), Code.InvalidArgument);
    await rejectsWith(
      auth.client.completeMfa({ mfaToken: "x".repeat(43), proof: { case: "totpCode", value: "123456" } }),
      Code.Unauthenticated,
      "MFA_TOKEN_INVALID",
    );

    // A session that ended cannot touch the factors, even with an access token that has not expired.
    await auth.client.logout({}, access);
    await rejectsWith(auth.client.setupTotp({}, access), Code.Unauthenticated, "SESSION_ENDED");
    await rejectsWith(
      auth.client.disableTotp({ proof: { case: "totpCode", value: codeForStep(setup.secret, currentStep() + 1) } }, access),
      Code.Unauthenticated,
      "SESSION_ENDED",
    );
    const stored = await auth.database.query("SELECT confirmed_at FROM totp_credential WHERE user_id = $1", [
      decodeJwt(user.tokens.accessToken).sub,
    ]);
    assert.ok(stored.rows[0]?.confirmed_at, "TOTP is still on");
  });
});
