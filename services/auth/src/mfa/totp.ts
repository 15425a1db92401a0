// TOTP (RFC 6238) with the parameters every authenticator app understands:
// HMAC-SHA-1, 6 digits, 30-second steps, a 20-byte (160-bit) secret as RFC
// 4226 recommends. Codes from one step either side of now are accepted, for
// clocks up to ~30 s apart and a code typed as it rolls over.
//
// Replay: a code is accepted only when its step is newer than the step of the
// last accepted code, recorded in Postgres by one conditional UPDATE. That is
// stronger than remembering used codes in Redis for their window: it holds
// across replicas and Redis restarts, an intercepted code is dead once any
// code of the same or a later step has been used, and there is nothing to
// expire. The cost: after using a code of step s+1 (a phone clock running
// ahead), the code of step s is refused; the user waits for the next code.
//
// Lifecycle: SetupTotp stores a pending secret (sealed with AES-256-GCM,
// expiring after AUTH_TOTP_SETUP_SECONDS); ConfirmTotp with a valid code turns
// it on and issues recovery codes in the same transaction; DisableTotp needs a
// current code or a recovery code.
import { randomUUID } from "node:crypto";
import type { DisableTotpRequest } from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { failedPrecondition, invalidArgument, type Sealer } from "@trustmesh/runtime";
import { Secret, TOTP } from "otpauth";
import type { CodeAttempts } from "./code-attempts.ts";
import { SecondFactorRejectedError } from "./errors.ts";
import type { RecoveryCodes } from "./recovery-codes.ts";
import type { StoredTotpCredential, TotpStore } from "./store.ts";

export const totpAlgorithm = "SHA1";
export const totpDigits = 6;
export const totpPeriodSeconds = 30;
/** Steps accepted either side of the current one. */
export const totpWindowSteps = 1;
const secretBytes = 20;

/** The RFC 6238 time step of a moment: whole periods since the Unix epoch. */
export function totpStep(timestampMs: number): number {
  return Math.floor(timestampMs / 1000 / totpPeriodSeconds);
}

/** The step whose code `code` is, within the window around `timestampMs`, or null when it is none of them. */
export function matchTotpCode(secret: Uint8Array, code: string, timestampMs: number): number | null {
  const delta = TOTP.validate({
    token: code,
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
    algorithm: totpAlgorithm,
    digits: totpDigits,
    period: totpPeriodSeconds,
    timestamp: timestampMs,
    window: totpWindowSteps,
  });
  return delta === null ? null : totpStep(timestampMs) + delta;
}

export interface TotpSetup {
  /** The secret in base32 without padding, for manual entry; shown once. */
  secret: string;
  /** otpauth://totp/... for a QR code. */
  otpauthUri: string;
  /** The pending secret is void after this unless confirmed. */
  expiresAt: Date;
}

export interface Totp {
  /**
   * Creates a pending secret for the account (replacing a pending one).
   * `accountName` is what the app shows under the issuer (the email or phone
   * number). FAILED_PRECONDITION (TOTP_ALREADY_ENABLED) once TOTP is on.
   */
  setup(userId: string, accountName: string): Promise<TotpSetup>;
  /**
   * Turns TOTP on with a code for the pending secret and returns the recovery
   * codes, shown once. FAILED_PRECONDITION (TOTP_NOT_PENDING) without an
   * unexpired pending secret; SecondFactorRejectedError for a wrong code.
   */
  confirm(userId: string, code: string): Promise<{ recoveryCodes: string[] }>;
  /**
   * Accepts a current code of the confirmed secret, once. Throws
   * SecondFactorRejectedError (TOTP_NOT_ENABLED, TOTP_CODE_INVALID,
   * TOTP_CODE_REPLAYED) or RESOURCE_EXHAUSTED when the account's code attempts
   * are spent.
   */
  verify(userId: string, code: string): Promise<void>;
  /**
   * Turns TOTP off and deletes the recovery codes, given DisableTotpRequest's
   * proof (a current code or a recovery code, each used up).
   * FAILED_PRECONDITION (TOTP_NOT_ENABLED) when TOTP is off.
   */
  disable(userId: string, proof: DisableTotpRequest["proof"]): Promise<void>;
  /** Whether the account has a confirmed TOTP credential. */
  isEnabled(userId: string): Promise<boolean>;
}

export interface TotpDependencies {
  store: TotpStore;
  sealer: Sealer;
  recoveryCodes: RecoveryCodes;
  attempts: CodeAttempts;
  /** Shown by authenticator apps (AUTH_TOTP_ISSUER). */
  issuer: string;
  /** How long a pending secret waits for confirmation (AUTH_TOTP_SETUP_SECONDS). */
  setupTtlMs: number;
  /** The clock, in milliseconds; tests move it. */
  now?: () => number;
}

/** The sealer's context: binds a sealed secret to its row and account. */
function sealContext(credential: { id: string; userId: string }): string {
  return `totp_credential:${credential.id}:${credential.userId}`;
}

const notPending = () => failedPrecondition("no TOTP setup is pending: call SetupTotp first", "TOTP_NOT_PENDING");
const alreadyEnabled = () => failedPrecondition("TOTP is already enabled; DisableTotp first", "TOTP_ALREADY_ENABLED");

export function createTotp(dependencies: TotpDependencies): Totp {
  const { store, sealer, recoveryCodes, attempts } = dependencies;
  const now = dependencies.now ?? Date.now;

  const openSecret = (credential: StoredTotpCredential) => sealer.open(credential.secretSealed, sealContext(credential));

  async function verify(userId: string, code: string): Promise<void> {
    await attempts.take(userId);
    const credential = await store.findTotp(userId);
    if (credential === null || credential.confirmedAt === null) throw new SecondFactorRejectedError("TOTP_NOT_ENABLED");
    const step = matchTotpCode(openSecret(credential), code, now());
    if (step === null) throw new SecondFactorRejectedError("TOTP_CODE_INVALID");
    if (!(await store.advanceTotpStep(credential.id, step))) throw new SecondFactorRejectedError("TOTP_CODE_REPLAYED");
    await attempts.clear(userId);
  }

  async function isEnabled(userId: string): Promise<boolean> {
    return (await store.findTotp(userId))?.confirmedAt != null;
  }

  return {
    async setup(userId, accountName) {
      if (await isEnabled(userId)) throw alreadyEnabled();
      const secret = new Secret({ size: secretBytes });
      const credential = { id: randomUUID(), userId };
      const expiresAt = new Date(now() + dependencies.setupTtlMs);
      const stored = await store.putPendingTotp({
        ...credential,
        secretSealed: sealer.seal(new Uint8Array(secret.buffer), sealContext(credential)),
        pendingExpiresAt: expiresAt,
      });
      // A ConfirmTotp may have won a race since the check above.
      if (!stored) throw alreadyEnabled();
      const uri = new TOTP({
        issuer: dependencies.issuer,
        label: accountName,
        secret,
        algorithm: totpAlgorithm,
        digits: totpDigits,
        period: totpPeriodSeconds,
      }).toString();
      return { secret: secret.base32, otpauthUri: uri, expiresAt };
    },

    async confirm(userId, code) {
      await attempts.take(userId);
      const credential = await store.findTotp(userId);
      if (credential?.confirmedAt != null) throw alreadyEnabled();
      const moment = now();
      if (credential === null || credential.pendingExpiresAt === null || credential.pendingExpiresAt.getTime() <= moment) {
        throw notPending();
      }
      const step = matchTotpCode(openSecret(credential), code, moment);
      if (step === null) throw new SecondFactorRejectedError("TOTP_CODE_INVALID");
      const issued = recoveryCodes.issue(userId);
      const confirmed = await store.confirmTotp({
        credentialId: credential.id,
        userId,
        step,
        now: new Date(moment),
        recoveryCodeHashes: issued.hashes,
      });
      // A parallel SetupTotp replaced the secret, or a parallel ConfirmTotp won.
      if (!confirmed) throw notPending();
      await attempts.clear(userId);
      return { recoveryCodes: issued.codes };
    },

    verify,

    async disable(userId, proof) {
      if (!(await isEnabled(userId))) throw failedPrecondition("TOTP is not enabled", "TOTP_NOT_ENABLED");
      if (proof.case === "totpCode") await verify(userId, proof.value);
      else if (proof.case === "recoveryCode") await recoveryCodes.redeem(userId, proof.value);
      else throw invalidArgument("proof", "a TOTP code or a recovery code is required");
      await store.deleteTotp(userId);
    },

    isEnabled,
  };
}
