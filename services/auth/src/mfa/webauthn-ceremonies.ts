// Single-use WebAuthn challenges in Redis. A ceremony's challenge is stored
// under its purpose and id with an expiry, and taken with GETDEL, so it is
// gone the moment anyone presents it, right or wrong, and two parallel
// presentations cannot both find it. The purpose is part of the key, so a
// registration's ceremony id can never finish a login. Losing Redis loses only
// ceremonies in flight; the user begins again.
import type { Redis } from "ioredis";

export type CeremonyPurpose = "registration" | "login" | "second-factor";

export interface CeremonyRecord {
  /** The challenge as sent in the options, base64url. */
  challenge: string;
  /** The account the ceremony is for; null for a login that names no account. */
  userId: string | null;
}

export interface WebauthnCeremonies {
  /** Stores the ceremony until `ttlMs` from now, replacing one of the same purpose and id. */
  start(purpose: CeremonyPurpose, id: string, record: CeremonyRecord, ttlMs: number): Promise<void>;
  /** Returns the ceremony and deletes it, atomically; null when it expired, was taken, or never existed. */
  take(purpose: CeremonyPurpose, id: string): Promise<CeremonyRecord | null>;
}

export function createWebauthnCeremonies(redis: Redis, keyPrefix = "auth:webauthn:"): WebauthnCeremonies {
  const keyOf = (purpose: CeremonyPurpose, id: string) => `${keyPrefix}${purpose}:${id}`;
  return {
    async start(purpose, id, record, ttlMs) {
      await redis.set(keyOf(purpose, id), JSON.stringify(record), "PX", ttlMs);
    },
    async take(purpose, id) {
      const value = await redis.getdel(keyOf(purpose, id));
      return value === null ? null : (JSON.parse(value) as CeremonyRecord);
    },
  };
}
