// The Prisma client and the helpers every store module shares: transactions,
// per-user serialisation and the audit append.
import { randomUUID } from "node:crypto";
import { createPrismaClient } from "@trustmesh/runtime/db";
import type pg from "pg";
import { auditEntryHash, genesisHash } from "../audit/audit-chain.ts";
import { PrismaClient } from "../generated/prisma/client.ts";

export type Prisma = PrismaClient;
export type Transaction = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

export function createHealthPrisma(pool: pg.Pool): PrismaClient {
  return createPrismaClient(PrismaClient, { pool });
}

/** Bytes as Prisma's Bytes fields take them (a Uint8Array over a plain ArrayBuffer). */
export function toBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

/** Bounds for interactive transactions: an upload writes up to 10 MB. */
export const transactionOptions = { maxWait: 5_000, timeout: 20_000 } as const;

/** Advisory-lock namespaces (the first key of pg_advisory_xact_lock(int, int)). */
const auditLockKey = 0x4155_4449; // "AUDI"
const userLockNamespace = 0x5553_4552; // "USER"

/**
 * Serialises a user's consent changes and uploads, so an upload can never slip a
 * job in after a withdrawal has cancelled the queued ones.
 */
export async function lockUser(transaction: Transaction, userId: string): Promise<void> {
  await transaction.$executeRaw`SELECT pg_advisory_xact_lock(${userLockNamespace}::int, hashtext(${userId}))`;
}

/** One audit event: who did what to which resource, under which request. */
export interface AuditEvent {
  actor: string;
  action: string;
  resourceType: "consent" | "document" | "job" | "result" | "audit_log";
  resourceId: string;
  requestId: string;
}

/**
 * Appends events to the audit chain inside the caller's transaction, so the entry
 * commits exactly when the access it records does. An advisory lock held to commit
 * makes sequence numbers gapless and each entry's predecessor certain.
 */
export async function appendAudit(transaction: Transaction, events: readonly AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  await transaction.$executeRaw`SELECT pg_advisory_xact_lock(${auditLockKey}::int, 0)`;
  const last = await transaction.auditEntry.findFirst({ orderBy: { sequence: "desc" }, select: { sequence: true, entryHash: true } });
  let sequence = last?.sequence ?? 0n;
  let previousHash: Uint8Array = last?.entryHash ?? genesisHash;
  const rows = events.map((event) => {
    sequence += 1n;
    const fields = { ...event, sequence, id: randomUUID(), recordedAt: new Date(), previousHash };
    const entryHash = auditEntryHash(fields);
    previousHash = entryHash;
    return { ...fields, previousHash: toBytes(fields.previousHash), entryHash: toBytes(entryHash) };
  });
  await transaction.auditEntry.createMany({ data: rows });
}
