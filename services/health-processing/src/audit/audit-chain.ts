// The audit log's hash chain. Each entry's hash covers its own fields and the
// previous entry's hash, so changing, inserting, reordering or deleting an entry
// breaks the chain at that entry; verification names the first one that breaks.
import { createHash } from "node:crypto";
import { AuditBreakReason } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_service_pb.js";

export const genesisHash: Buffer = Buffer.alloc(32);

export interface AuditEntryFields {
  sequence: bigint;
  id: string;
  actor: string;
  action: string;
  resourceType: string;
  resourceId: string;
  requestId: string;
  recordedAt: Date;
  previousHash: Uint8Array;
}

export interface StoredAuditEntry extends AuditEntryFields {
  entryHash: Uint8Array;
}

/** SHA-256 over a canonical JSON array of the fields, in a fixed order. */
export function auditEntryHash(entry: AuditEntryFields): Buffer {
  const canonical = JSON.stringify([
    entry.sequence.toString(),
    entry.id,
    entry.actor,
    entry.action,
    entry.resourceType,
    entry.resourceId,
    entry.requestId,
    entry.recordedAt.toISOString(),
    Buffer.from(entry.previousHash).toString("hex"),
  ]);
  return createHash("sha256").update(canonical).digest();
}

export interface ChainBreak {
  entry: StoredAuditEntry;
  reason: AuditBreakReason;
}

/** The state verification carries from one batch to the next. */
export interface ChainCursor {
  /** Sequence of the last intact entry; 0n before the first. */
  sequence: bigint;
  hash: Uint8Array;
}

/**
 * Checks entries (in sequence order) against the cursor; returns the first break
 * or the cursor after the last entry.
 */
export function verifyAuditEntries(
  entries: readonly StoredAuditEntry[],
  cursor: ChainCursor,
): { broken?: ChainBreak; cursor: ChainCursor } {
  let current = cursor;
  for (const entry of entries) {
    if (entry.sequence !== current.sequence + 1n) return { broken: { entry, reason: AuditBreakReason.SEQUENCE_GAP }, cursor: current };
    if (!Buffer.from(entry.entryHash).equals(auditEntryHash(entry))) {
      return { broken: { entry, reason: AuditBreakReason.HASH_MISMATCH }, cursor: current };
    }
    if (!Buffer.from(entry.previousHash).equals(Buffer.from(current.hash))) {
      return { broken: { entry, reason: AuditBreakReason.PREVIOUS_HASH_MISMATCH }, cursor: current };
    }
    current = { sequence: entry.sequence, hash: entry.entryHash };
  }
  return { cursor: current };
}
