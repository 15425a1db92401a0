// What the sweeper deletes, and the audit log as verification reads it.
import type { StoredAuditEntry } from "../audit/audit-chain.ts";
import { type AuditEvent, appendAudit, type Prisma, type Transaction, toBytes, transactionOptions } from "./prisma.ts";

/**
 * Deletes up to `batchSize` originals past their retention window. Jobs still
 * waiting for them fail as ORIGINAL_EXPIRED; a running job keeps the bytes it
 * already decrypted and finishes.
 */
export async function deleteExpiredOriginals(
  prisma: Prisma,
  now: Date,
  batchSize: number,
  audit: (documentId: string) => AuditEvent,
): Promise<{ documentIds: string[]; failedJobIds: string[] }> {
  return prisma.$transaction(async (transaction) => {
    const expired = await transaction.$queryRaw<{ id: string }[]>`
      SELECT "id" FROM "document"
      WHERE "original_expires_at" <= ${now} AND "original_deleted_at" IS NULL
      ORDER BY "original_expires_at" LIMIT ${batchSize} FOR UPDATE SKIP LOCKED`;
    const documentIds = expired.map((row) => row.id);
    if (documentIds.length === 0) return { documentIds, failedJobIds: [] };
    await transaction.documentOriginal.deleteMany({ where: { documentId: { in: documentIds } } });
    await transaction.document.updateMany({ where: { id: { in: documentIds } }, data: { originalDeletedAt: now } });
    const waiting = await transaction.job.findMany({ where: { documentId: { in: documentIds }, status: "QUEUED" }, select: { id: true } });
    const failedJobIds = waiting.map((job) => job.id);
    if (failedJobIds.length > 0) {
      await transaction.job.updateMany({
        where: { id: { in: failedJobIds } },
        data: {
          status: "FAILED",
          failureReason: "ORIGINAL_EXPIRED",
          failureMessage: "The document was deleted at the end of its retention window before it could be processed; upload it again.",
          finishedAt: now,
          updatedAt: now,
        },
      });
    }
    await appendAudit(transaction, documentIds.map(audit));
    return { documentIds, failedJobIds };
  }, transactionOptions);
}

/** Deletes results kept without data-retention consent once their time is up. */
export async function deleteExpiredResults(
  prisma: Prisma,
  now: Date,
  batchSize: number,
  audit: (jobId: string) => AuditEvent,
): Promise<string[]> {
  return prisma.$transaction(async (transaction) => {
    const expired = await transaction.labReportResult.findMany({
      where: { expiresAt: { lte: now } },
      select: { jobId: true },
      take: batchSize,
    });
    const jobIds = expired.map((row) => row.jobId);
    if (jobIds.length === 0) return jobIds;
    await transaction.labReportResult.deleteMany({ where: { jobId: { in: jobIds } } });
    await appendAudit(transaction, jobIds.map(audit));
    return jobIds;
  }, transactionOptions);
}

export async function deleteExpiredIdempotencyRecords(prisma: Prisma, now: Date): Promise<number> {
  return (await prisma.idempotencyRecord.deleteMany({ where: { expiresAt: { lte: now } } })).count;
}

/** Results of a user kept until deleted (retention granted) or until `expiresAt` (withdrawn). */
export async function setResultExpiry(transaction: Transaction, userId: string, expiresAt: Date | null): Promise<void> {
  await transaction.labReportResult.updateMany({
    where: expiresAt === null ? { userId } : { userId, expiresAt: null },
    data: { expiresAt },
  });
}

export async function readAuditEntries(prisma: Prisma, fromSequence: bigint, limit: number): Promise<StoredAuditEntry[]> {
  return prisma.auditEntry.findMany({ where: { sequence: { gte: fromSequence } }, orderBy: { sequence: "asc" }, take: limit });
}

export async function auditEntryBefore(prisma: Prisma, sequence: bigint): Promise<StoredAuditEntry | null> {
  return prisma.auditEntry.findFirst({ where: { sequence: { lt: sequence } }, orderBy: { sequence: "desc" } });
}

export async function firstAuditSequence(prisma: Prisma): Promise<bigint | undefined> {
  return (await prisma.auditEntry.findFirst({ orderBy: { sequence: "asc" }, select: { sequence: true } }))?.sequence;
}

// Idempotency records for the consent RPCs (uploads keep theirs on the document).

export async function findIdempotencyRecord(
  transaction: Transaction,
  scope: string,
  key: string,
): Promise<{ method: string; requestHash: Uint8Array; response: Uint8Array } | null> {
  return transaction.idempotencyRecord.findUnique({
    where: { scope_key: { scope, key } },
    select: { method: true, requestHash: true, response: true },
  });
}

export async function saveIdempotencyRecord(
  transaction: Transaction,
  record: { scope: string; key: string; method: string; requestHash: Uint8Array; response: Uint8Array; expiresAt: Date },
): Promise<void> {
  await transaction.idempotencyRecord.create({
    data: { ...record, requestHash: toBytes(record.requestHash), response: toBytes(record.response) },
  });
}
