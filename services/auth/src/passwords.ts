// Passwords: the policy a new one must meet, and argon2id hashing with
// transparent re-hashing when the configured parameters change.

import { invalidArgument } from "@trustmesh/runtime";
import { dictionary } from "@zxcvbn-ts/language-common";
import * as argon2 from "argon2";

export interface Argon2Parameters {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

/**
 * The most common passwords, from zxcvbn-ts's list (frequency-ordered, kept up
 * to date by that project), lower-cased: a policy check compares
 * case-insensitively, since "Password1" is as guessable as "password1".
 */
const commonPasswords: ReadonlySet<string> = new Set(dictionary["passwords-common"].map((password) => password.toLowerCase()));

export function isCommonPassword(password: string): boolean {
  return commonPasswords.has(password.toLowerCase());
}

/**
 * Throws INVALID_ARGUMENT naming `field` when the password breaks the policy.
 * Only the request's own contacts are compared, never stored accounts, so the
 * answer tells nothing about who has signed up.
 */
export function checkPasswordPolicy(field: string, password: string, contacts: readonly string[], minLength: number): void {
  if ([...password].length < minLength) throw invalidArgument(field, `must be at least ${minLength} characters`, "PASSWORD_TOO_SHORT");
  const lowered = password.toLowerCase();
  for (const contact of contacts) {
    if (contact === "") continue;
    const localPart = contact.includes("@") ? contact.slice(0, contact.indexOf("@")).toLowerCase() : contact;
    if (lowered === contact.toLowerCase() || lowered === localPart || lowered === contact.replace(/^\+/, "")) {
      throw invalidArgument(field, "must not be your email address or phone number", "PASSWORD_IS_CONTACT");
    }
  }
  if (isCommonPassword(password))
    throw invalidArgument(field, "is one of the most common passwords; choose another", "PASSWORD_TOO_COMMON");
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Whether the password matches; a malformed stored hash counts as no match. */
  verify(hash: string, password: string): Promise<boolean>;
  /** Whether a matching hash was made with other parameters than the configured ones. */
  needsRehash(hash: string): boolean;
  /** Spends the time of one verification, for unknown accounts, so timing tells nothing. */
  verifyNothing(password: string): Promise<void>;
}

export async function createPasswordHasher(parameters: Argon2Parameters): Promise<PasswordHasher> {
  const options = {
    type: argon2.argon2id,
    memoryCost: parameters.memoryKib,
    timeCost: parameters.iterations,
    parallelism: parameters.parallelism,
  } as const;
  // A real hash with the current parameters, so verifying against it costs what a real login costs.
  const decoy = await argon2.hash("decoy password for unknown accounts", options);
  return {
    hash: (password) => argon2.hash(password, options),
    verify: (hash, password) => argon2.verify(hash, password).catch(() => false),
    needsRehash: (hash) => {
      try {
        return argon2.needsRehash(hash, options);
      } catch {
        return true;
      }
    },
    async verifyNothing(password) {
      await argon2.verify(decoy, password).catch(() => false);
    },
  };
}
