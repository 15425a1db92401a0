// Recovery codes: ten single-use codes handed out once when TOTP is confirmed,
// for the day the authenticator app is lost.
//
// Format: 12 characters of Crockford base32 (0-9 and a-z without i, l, o, u),
// shown as three dash-separated groups ("7k2m-q9xd-4hbv"): 60 random bits each.
// Input ignores dashes and case and reads o as 0 and i, l as 1, the letters
// people mistake for digits when copying from paper.
//
// Hashing: HMAC-SHA-256 over "<user id>:<code>". A password hash (argon2id)
// exists to slow down guessing low-entropy secrets; 60 random bits cannot be
// guessed offline anyway (2^59 tries on average per code), so a fast hash
// loses nothing and keeps redemption to one indexed lookup. The HMAC key is
// derived (HKDF-SHA-256) from each key-encryption key of AUTH_KEK_RING, so a
// stolen database alone cannot even be searched, no new secret has to be
// configured, and keys rotate with the ring: codes hashed under an older key
// still redeem while that key stays in the ring. The user id in the message
// binds a hash to its account.
import { createHmac, hkdfSync, randomInt } from "node:crypto";
import type { CodeAttempts } from "./code-attempts.ts";
import { SecondFactorRejectedError } from "./errors.ts";
import type { RecoveryCodeStore } from "./store.ts";

/** How many codes ConfirmTotp hands out. */
export const recoveryCodeCount = 10;

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
const groupLength = 4;
const groupCount = 3;
const codeLength = groupLength * groupCount;

/** Fresh codes in display form, all distinct. */
export function generateRecoveryCodes(count = recoveryCodeCount): string[] {
  const codes = new Set<string>();
  while (codes.size < count) {
    let code = "";
    for (let index = 0; index < codeLength; index++) {
      if (index > 0 && index % groupLength === 0) code += "-";
      code += alphabet[randomInt(alphabet.length)];
    }
    codes.add(code);
  }
  return [...codes];
}

/** The canonical form a code is hashed in, or null when the input cannot be a recovery code. */
export function normalizeRecoveryCode(input: string): string | null {
  const normalized = input.replaceAll("-", "").toLowerCase().replaceAll("o", "0").replaceAll(/[il]/g, "1");
  if (normalized.length !== codeLength) return null;
  for (const character of normalized) if (!alphabet.includes(character)) return null;
  return normalized;
}

export interface RecoveryCodeHasher {
  /** The hash to store, under the active key. */
  hash(userId: string, normalizedCode: string): Buffer;
  /** The hashes the code may be stored under: one per key in the ring, active key first. */
  candidates(userId: string, normalizedCode: string): Buffer[];
}

const hkdfInfo = "trustmesh auth recovery-code hmac v1";

export function createRecoveryCodeHasher(keyRing: ReadonlyMap<string, Buffer>, activeKeyId: string): RecoveryCodeHasher {
  const derive = (keyEncryptionKey: Buffer) => Buffer.from(hkdfSync("sha256", keyEncryptionKey, Buffer.alloc(0), hkdfInfo, 32));
  const activeKeyEncryptionKey = keyRing.get(activeKeyId);
  if (activeKeyEncryptionKey === undefined) throw new Error(`active key "${activeKeyId}" is not in the key ring`);
  const active = derive(activeKeyEncryptionKey);
  const others = [...keyRing].filter(([id]) => id !== activeKeyId).map(([, key]) => derive(key));
  const mac = (key: Buffer, userId: string, code: string) => createHmac("sha256", key).update(`${userId}:${code}`).digest();
  return {
    hash: (userId, code) => mac(active, userId, code),
    candidates: (userId, code) => [active, ...others].map((key) => mac(key, userId, code)),
  };
}

export interface IssuedRecoveryCodes {
  /** Display form, to show the user once. */
  codes: string[];
  /** What the store keeps, in the same order. */
  hashes: Buffer[];
}

export interface RecoveryCodes {
  /** New codes and their hashes; storing them (replacing the old ones) is the caller's transaction. */
  issue(userId: string): IssuedRecoveryCodes;
  /**
   * Uses up one of the account's codes, atomically: of parallel calls with the
   * same code exactly one succeeds. Throws SecondFactorRejectedError
   * (RECOVERY_CODE_INVALID) for a wrong or used code, RESOURCE_EXHAUSTED when
   * the account's code attempts are spent.
   */
  redeem(userId: string, code: string): Promise<void>;
  /** Unused codes left. */
  remaining(userId: string): Promise<number>;
}

export function createRecoveryCodes(dependencies: {
  store: RecoveryCodeStore;
  hasher: RecoveryCodeHasher;
  attempts: CodeAttempts;
}): RecoveryCodes {
  const { store, hasher, attempts } = dependencies;
  return {
    issue(userId) {
      // Generated codes are canonical but for their dashes.
      const codes = generateRecoveryCodes();
      return { codes, hashes: codes.map((code) => hasher.hash(userId, code.replaceAll("-", ""))) };
    },
    async redeem(userId, code) {
      await attempts.take(userId);
      const normalized = normalizeRecoveryCode(code);
      if (normalized === null || !(await store.redeemRecoveryCode(userId, hasher.candidates(userId, normalized)))) {
        throw new SecondFactorRejectedError("RECOVERY_CODE_INVALID");
      }
      await attempts.clear(userId);
    },
    remaining: (userId) => store.countUnusedRecoveryCodes(userId),
  };
}
