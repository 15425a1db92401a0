// Second factors behind one door, for the Login, CompleteMfa and GetMe
// handlers. The exact interface (docs/second-factors.md: Wiring):
//
//   interface SecondFactors {
//     // The account's factors, strongest first (PASSKEY, TOTP, RECOVERY_CODE);
//     // empty means Login issues tokens without a challenge.
//     methodsFor(userId: string): Promise<MfaMethod[]>;
//     // What Login's MfaChallenge carries: the methods, and when PASSKEY is
//     // among them, WebAuthn request options whose single-use challenge is
//     // bound to this half-finished login (attemptId: any string unique to it,
//     // e.g. the mfa token's id or hash; it is hashed before use).
//     challengeFor(userId: string, attemptId: string): Promise<SecondFactorChallenge>;
//     // Checks and uses up one answer: a TOTP code (replay refused), a recovery
//     // code (single use), or a passkey assertion for challengeFor's options
//     // of the same attempt. Throws SecondFactorRejectedError (UNAUTHENTICATED,
//     // with `.rejection` for the audit log), RESOURCE_EXHAUSTED when the
//     // account's code attempts are spent, INVALID_ARGUMENT for malformed
//     // passkey JSON.
//     verifyChallengeAnswer(userId: string, answer: SecondFactorAnswer, attemptId: string): Promise<VerifiedSecondFactor>;
//     // GetMe's User.mfa and GetMe's passkeys (newest first).
//     summaryFor(userId: string): Promise<SecondFactorSummary>;
//   }
//
//   type SecondFactorAnswer =
//     | { method: MfaMethod.TOTP; code: string }
//     | { method: MfaMethod.RECOVERY_CODE; code: string }
//     | { method: MfaMethod.PASSKEY; responseJson: string };
//   answerFromProof(CompleteMfaRequest["proof"]) builds one from the request.
//
// This is the one second-factor interface of auth: Login, CompleteMfa and
// GetMe (src/service) call it directly.
import { create } from "@bufbuild/protobuf";
import {
  AuthenticationMethod,
  MfaMethod,
  type MfaSummary,
  MfaSummarySchema,
  type Passkey,
} from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import type { CompleteMfaRequest } from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { invalidArgument, type Sealer } from "@trustmesh/runtime";
import type { Redis } from "ioredis";
import type { PrismaClient } from "../generated/prisma/client.ts";
import { createCodeAttempts } from "./code-attempts.ts";
import type { SecondFactorSettings } from "./config.ts";
import { createPasskeys, type Passkeys } from "./passkeys.ts";
import { createRecoveryCodeHasher, createRecoveryCodes, type RecoveryCodes } from "./recovery-codes.ts";
import { createSecondFactorStore } from "./store.ts";
import { createTotp, type Totp } from "./totp.ts";
import { createWebauthnCeremonies } from "./webauthn-ceremonies.ts";

export type SecondFactorAnswer =
  | { method: MfaMethod.TOTP; code: string }
  | { method: MfaMethod.RECOVERY_CODE; code: string }
  | { method: MfaMethod.PASSKEY; responseJson: string };

export interface SecondFactorChallenge {
  /** Strongest first; empty when the account has no second factor. */
  methods: MfaMethod[];
  /** PublicKeyCredentialRequestOptionsJSON listing the account's passkeys; "" without PASSKEY. */
  passkeyOptionsJson: string;
}

export interface VerifiedSecondFactor {
  method: MfaMethod;
  /** What to add to the session's authentication methods (and so its `amr`). */
  authenticationMethod: AuthenticationMethod;
  /** The passkey that answered, for the audit event; absent for codes. */
  passkeyId?: string;
}

export interface SecondFactorSummary {
  /** User.mfa in GetMe and DisableTotpResponse.mfa. */
  mfa: MfaSummary;
  /** GetMeResponse.passkeys, newest first. */
  passkeys: Passkey[];
}

export interface SecondFactors {
  methodsFor(userId: string): Promise<MfaMethod[]>;
  challengeFor(userId: string, attemptId: string): Promise<SecondFactorChallenge>;
  verifyChallengeAnswer(userId: string, answer: SecondFactorAnswer, attemptId: string): Promise<VerifiedSecondFactor>;
  summaryFor(userId: string): Promise<SecondFactorSummary>;
}

/** CompleteMfaRequest's proof as an answer; protovalidate has already required one. */
export function answerFromProof(proof: CompleteMfaRequest["proof"]): SecondFactorAnswer {
  switch (proof.case) {
    case "totpCode":
      return { method: MfaMethod.TOTP, code: proof.value };
    case "recoveryCode":
      return { method: MfaMethod.RECOVERY_CODE, code: proof.value };
    case "passkeyResponseJson":
      return { method: MfaMethod.PASSKEY, responseJson: proof.value };
    default:
      throw invalidArgument("proof", "a TOTP code, a recovery code or a passkey response is required");
  }
}

export function createSecondFactors(modules: { totp: Totp; recoveryCodes: RecoveryCodes; passkeys: Passkeys }): SecondFactors {
  const { totp, recoveryCodes, passkeys } = modules;

  async function facts(userId: string) {
    const [totpEnabled, recoveryCodesRemaining, passkeyCount] = await Promise.all([
      totp.isEnabled(userId),
      recoveryCodes.remaining(userId),
      passkeys.count(userId),
    ]);
    return { totpEnabled, recoveryCodesRemaining, passkeyCount };
  }

  async function methodsFor(userId: string): Promise<MfaMethod[]> {
    const { totpEnabled, recoveryCodesRemaining, passkeyCount } = await facts(userId);
    const methods: MfaMethod[] = [];
    if (passkeyCount > 0) methods.push(MfaMethod.PASSKEY);
    if (totpEnabled) methods.push(MfaMethod.TOTP);
    // Recovery codes stand in for TOTP; they are deleted when it is turned off.
    if (totpEnabled && recoveryCodesRemaining > 0) methods.push(MfaMethod.RECOVERY_CODE);
    return methods;
  }

  return {
    methodsFor,

    async challengeFor(userId, attemptId) {
      const methods = await methodsFor(userId);
      const passkeyOptionsJson = methods.includes(MfaMethod.PASSKEY) ? await passkeys.beginSecondFactor(userId, attemptId) : "";
      return { methods, passkeyOptionsJson };
    },

    async verifyChallengeAnswer(userId, answer, attemptId) {
      switch (answer.method) {
        case MfaMethod.TOTP:
          await totp.verify(userId, answer.code);
          return { method: MfaMethod.TOTP, authenticationMethod: AuthenticationMethod.TOTP };
        case MfaMethod.RECOVERY_CODE:
          await recoveryCodes.redeem(userId, answer.code);
          return { method: MfaMethod.RECOVERY_CODE, authenticationMethod: AuthenticationMethod.RECOVERY_CODE };
        case MfaMethod.PASSKEY: {
          const { passkey } = await passkeys.verifySecondFactor(userId, attemptId, answer.responseJson, "passkey_response_json");
          return { method: MfaMethod.PASSKEY, authenticationMethod: AuthenticationMethod.PASSKEY, passkeyId: passkey.id };
        }
      }
    },

    async summaryFor(userId) {
      const [{ totpEnabled, recoveryCodesRemaining, passkeyCount }, list] = await Promise.all([facts(userId), passkeys.list(userId)]);
      return { mfa: create(MfaSummarySchema, { totpEnabled, recoveryCodesRemaining, passkeyCount }), passkeys: list };
    },
  };
}

export interface SecondFactorModules {
  /** SetupTotp, ConfirmTotp, DisableTotp. */
  totp: Totp;
  recoveryCodes: RecoveryCodes;
  /** BeginPasskeyRegistration, FinishPasskeyRegistration, BeginPasskeyLogin, FinishPasskeyLogin. */
  passkeys: Passkeys;
  /** Login, CompleteMfa, GetMe. */
  secondFactors: SecondFactors;
}

/**
 * Everything second factors need, built from what auth's routes already have:
 * its Prisma client, Redis, the sealer and the raw key ring of AUTH_KEK_RING
 * (parseKeyRing), and secondFactorSettings(config).
 */
export function createSecondFactorModules(dependencies: {
  prisma: PrismaClient;
  redis: Redis;
  sealer: Sealer;
  keyRing: ReadonlyMap<string, Buffer>;
  settings: SecondFactorSettings;
  /** The clock for TOTP, in milliseconds; tests move it. */
  now?: () => number;
}): SecondFactorModules {
  const { prisma, redis, sealer, keyRing, settings } = dependencies;
  const store = createSecondFactorStore(prisma);
  const attempts = createCodeAttempts(redis, { attemptsMax: settings.codeAttemptsMax, windowMs: settings.codeAttemptsWindowMs });
  const recoveryCodes = createRecoveryCodes({ store, hasher: createRecoveryCodeHasher(keyRing, sealer.activeKeyId), attempts });
  const totp = createTotp({
    store,
    sealer,
    recoveryCodes,
    attempts,
    issuer: settings.totpIssuer,
    setupTtlMs: settings.totpSetupTtlMs,
    now: dependencies.now,
  });
  const passkeys = createPasskeys({ store, ceremonies: createWebauthnCeremonies(redis), settings });
  return { totp, recoveryCodes, passkeys, secondFactors: createSecondFactors({ totp, recoveryCodes, passkeys }) };
}
