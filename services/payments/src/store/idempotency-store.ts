// Idempotency keys, scoped per user (DESIGN.md §2): a replay with the same key
// and body returns what the first call created; the same key with another body
// is ALREADY_EXISTS. The key row is inserted first in the transaction that
// creates the resource, so a concurrent duplicate waits on it and then sees the
// committed first call — the key takes effect once.
import { timingSafeEqual } from "node:crypto";
import { alreadyExists } from "@trustmesh/runtime";
import type { Transaction } from "./prisma.ts";
import { toBytes } from "./prisma.ts";

export interface IdempotencyClaim {
  userId: string;
  key: string;
  method: string;
  fingerprint: Uint8Array;
  fingerprintKeyId: string;
  resourceId: string;
  /** How long the key is kept. */
  retentionMs: number;
}

export interface StoredKey {
  method: string;
  fingerprint: Uint8Array;
  fingerprintKeyId: string;
  resourceId: string;
}

/** Inserts the key; returns the stored key instead when it was used before (and committed). */
export async function claimIdempotencyKey(transaction: Transaction, claim: IdempotencyClaim): Promise<StoredKey | undefined> {
  const now = new Date();
  const inserted = await transaction.$executeRaw`
    INSERT INTO "idempotency_key" ("user_id", "key", "method", "request_fingerprint", "fingerprint_key_id", "resource_id", "created_at", "expires_at")
    VALUES (${claim.userId}::uuid, ${claim.key}, ${claim.method}, ${toBytes(claim.fingerprint)}, ${claim.fingerprintKeyId},
            ${claim.resourceId}::uuid, ${now}, ${new Date(now.getTime() + claim.retentionMs)})
    ON CONFLICT ("user_id", "key") DO NOTHING`;
  if (inserted === 1) return undefined;
  const stored = await transaction.idempotencyKey.findUnique({ where: { userId_key: { userId: claim.userId, key: claim.key } } });
  if (!stored) throw new Error("idempotency key vanished between insert and read");
  return {
    method: stored.method,
    fingerprint: stored.requestFingerprint,
    fingerprintKeyId: stored.fingerprintKeyId,
    resourceId: stored.resourceId,
  };
}

/**
 * The resource id a replay should return, or ALREADY_EXISTS when the key was
 * used for another method or another body.
 */
export function replayedResourceId(stored: StoredKey, method: string, fingerprint: Uint8Array, field = "idempotency_key"): string {
  const same =
    stored.method === method && stored.fingerprint.length === fingerprint.length && timingSafeEqual(stored.fingerprint, fingerprint);
  if (!same) throw alreadyExists(`${field}: this key was already used for a different request`, "IDEMPOTENCY_KEY_REUSED");
  return stored.resourceId;
}

/** Forgets keys past their retention, a bounded batch at a time. */
export async function sweepIdempotencyKeys(transaction: Transaction, batchMax: number): Promise<number> {
  return transaction.$executeRaw`
    DELETE FROM "idempotency_key" WHERE ctid IN (
      SELECT ctid FROM "idempotency_key" WHERE "expires_at" < now() LIMIT ${batchMax})`;
}
