// Documents, their encrypted originals, jobs (which are also the queue) and
// results. Every function that reads or writes a user's data takes the audit
// events to append in the same transaction.
import type { JobFailureReason, JobStage } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import type { Document as DocumentRow, Job as JobRow } from "../generated/prisma/client.ts";
import type { DocumentContentType, JobStatus } from "../generated/prisma/enums.ts";
import { toDbFailureReason, toDbJobStage } from "./enums.ts";
import { type AuditEvent, appendAudit, type Prisma, type Transaction, toBytes, transactionOptions } from "./prisma.ts";

export type JobWithDocument = JobRow & { document: DocumentRow };

export interface NewDocument {
  id: string;
  userId: string;
  fileNameSealed: Uint8Array;
  contentType: DocumentContentType;
  sizeBytes: number;
  sha256: string;
  idempotencyKey: string;
  requestHash: Uint8Array;
  uploadedAt: Date;
  originalExpiresAt: Date;
  sealedDataKey: Uint8Array;
  ciphertext: Uint8Array;
}

export async function findUploadByKey(transaction: Transaction, userId: string, idempotencyKey: string): Promise<JobWithDocument | null> {
  const document = await transaction.document.findUnique({
    where: { userId_idempotencyKey: { userId, idempotencyKey } },
    include: { job: true },
  });
  if (!document?.job) return null;
  const { job, ...rest } = document;
  return { ...job, document: rest };
}

export async function insertUpload(
  transaction: Transaction,
  document: NewDocument,
  job: { id: string; maxAttempts: number },
  audit: readonly AuditEvent[],
): Promise<JobWithDocument> {
  const { sealedDataKey, ciphertext, fileNameSealed, requestHash, ...fields } = document;
  const created = await transaction.document.create({
    data: { ...fields, fileNameSealed: toBytes(fileNameSealed), requestHash: toBytes(requestHash) },
  });
  await transaction.documentOriginal.create({
    data: {
      documentId: document.id,
      sealedDataKey: toBytes(sealedDataKey),
      ciphertext: toBytes(ciphertext),
      createdAt: document.uploadedAt,
    },
  });
  const jobRow = await transaction.job.create({
    data: {
      id: job.id,
      documentId: document.id,
      userId: document.userId,
      status: "QUEUED",
      progressPercent: 0,
      attempt: 0,
      maxAttempts: job.maxAttempts,
      createdAt: document.uploadedAt,
      nextAttemptAt: document.uploadedAt,
      updatedAt: document.uploadedAt,
    },
  });
  await appendAudit(transaction, audit);
  return { ...jobRow, document: created };
}

/** A user's job, or null when it does not exist or is someone else's. */
export async function findJobOfUser(client: Prisma | Transaction, jobId: string, userId: string): Promise<JobWithDocument | null> {
  return client.job.findFirst({ where: { id: jobId, userId }, include: { document: true } });
}

export interface JobPageCursor {
  createdAt: Date;
  id: string;
}

export async function listJobsOfUser(
  prisma: Prisma,
  userId: string,
  options: { statuses: readonly JobStatus[]; after?: JobPageCursor; limit: number },
): Promise<JobWithDocument[]> {
  const after = options.after;
  return prisma.job.findMany({
    where: {
      userId,
      ...(options.statuses.length > 0 ? { status: { in: [...options.statuses] } } : {}),
      ...(after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {}),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: options.limit,
    include: { document: true },
  });
}

/** Jobs that stop when processing is no longer allowed: queued or running. */
export async function cancelActiveJobs(transaction: Transaction, userId: string, message: string): Promise<string[]> {
  const now = new Date();
  const active = await transaction.job.findMany({
    where: { userId, status: { in: ["QUEUED", "RUNNING"] } },
    select: { id: true, documentId: true },
  });
  if (active.length === 0) return [];
  await transaction.job.updateMany({
    where: { id: { in: active.map((job) => job.id) } },
    data: {
      status: "CANCELLED",
      stage: null,
      failureReason: "CONSENT_WITHDRAWN",
      failureMessage: message,
      finishedAt: now,
      updatedAt: now,
      leaseToken: null,
      leaseOwner: null,
      leaseExpiresAt: null,
    },
  });
  // Their originals can no longer be processed, so they are not kept either.
  await transaction.documentOriginal.deleteMany({ where: { documentId: { in: active.map((job) => job.documentId) } } });
  await transaction.document.updateMany({
    where: { id: { in: active.map((job) => job.documentId) }, originalDeletedAt: null },
    data: { originalDeletedAt: now },
  });
  return active.map((job) => job.id);
}

/** Re-queues a failed job with a fresh budget of attempts. */
export async function requeueJob(transaction: Transaction, jobId: string, maxAttemptsPerRun: number): Promise<void> {
  const job = await transaction.job.findUniqueOrThrow({ where: { id: jobId }, select: { attempt: true } });
  const now = new Date();
  await transaction.job.update({
    where: { id: jobId },
    data: {
      status: "QUEUED",
      stage: null,
      progressPercent: 0,
      maxAttempts: job.attempt + maxAttemptsPerRun,
      failureReason: null,
      failureMessage: null,
      finishedAt: null,
      nextAttemptAt: now,
      updatedAt: now,
    },
  });
}

export async function originalExists(client: Prisma | Transaction, documentId: string): Promise<boolean> {
  return (await client.documentOriginal.count({ where: { documentId } })) > 0;
}

export async function readResult(client: Prisma | Transaction, jobId: string): Promise<{ resultSealed: Uint8Array } | null> {
  return client.labReportResult.findUnique({ where: { jobId }, select: { resultSealed: true } });
}

/** Erases a document; its original, job and result go with it (foreign keys cascade). */
export async function deleteDocumentOfUser(
  prisma: Prisma,
  documentId: string,
  userId: string,
  audit: (found: { jobId: string | undefined }) => AuditEvent[],
): Promise<{ originalDeleted: boolean; resultDeleted: boolean; jobId: string | undefined } | null> {
  return prisma.$transaction(async (transaction) => {
    const document = await transaction.document.findFirst({
      where: { id: documentId, userId },
      select: { id: true, original: { select: { documentId: true } }, job: { select: { id: true, result: { select: { jobId: true } } } } },
    });
    if (!document) return null;
    await transaction.document.delete({ where: { id: documentId } });
    const jobId = document.job?.id;
    await appendAudit(transaction, audit({ jobId }));
    return { originalDeleted: document.original !== null, resultDeleted: Boolean(document.job?.result), jobId };
  }, transactionOptions);
}

// ---------------------------------------------------------------------------------------
// The worker's side of the queue.

export interface ClaimedJob {
  id: string;
  documentId: string;
  userId: string;
  attempt: number;
  maxAttempts: number;
  leaseToken: string;
}

/**
 * Claims up to `limit` runnable jobs for this worker: queued ones whose time has
 * come, and running ones whose lease expired because their worker died. SKIP
 * LOCKED lets several workers claim at once without waiting on, or taking, each
 * other's rows. Each claim starts an attempt and a fresh lease token.
 */
export async function claimJobs(prisma: Prisma, workerId: string, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
  if (limit <= 0) return [];
  const rows = await prisma.$queryRaw<
    { id: string; document_id: string; user_id: string; attempt: number; max_attempts: number; lease_token: string }[]
  >`
    UPDATE "job" SET
      "status" = 'RUNNING', "stage" = 'EXTRACTING_TEXT', "progress_percent" = 5,
      "attempt" = "attempt" + 1, "started_at" = now(), "updated_at" = now(),
      "lease_token" = gen_random_uuid(), "lease_owner" = ${workerId},
      "lease_expires_at" = now() + make_interval(secs => ${leaseMs / 1000}::double precision)
    WHERE "id" IN (
      SELECT "id" FROM "job"
      WHERE (("status" = 'QUEUED' AND "next_attempt_at" <= now())
          OR ("status" = 'RUNNING' AND "lease_expires_at" < now()))
        AND "attempt" < "max_attempts"
      ORDER BY "next_attempt_at"
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING "id", "document_id", "user_id", "attempt", "max_attempts", "lease_token"::text AS "lease_token"`;
  return rows.map((row) => ({
    id: row.id,
    documentId: row.document_id,
    userId: row.user_id,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    leaseToken: row.lease_token,
  }));
}

/**
 * Jobs whose worker died on their last allowed attempt: failed rather than run
 * again, so a document that crashes its worker cannot crash workers for ever.
 */
export async function failAbandonedJobs(prisma: Prisma, message: string): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    UPDATE "job" SET "status" = 'FAILED', "stage" = NULL, "failure_reason" = 'INTERNAL', "failure_message" = ${message},
      "finished_at" = now(), "updated_at" = now(), "lease_token" = NULL, "lease_owner" = NULL, "lease_expires_at" = NULL
    WHERE "id" IN (
      SELECT "id" FROM "job"
      WHERE "status" = 'RUNNING' AND "lease_expires_at" < now() AND "attempt" >= "max_attempts"
      LIMIT 100
      FOR UPDATE SKIP LOCKED)
    RETURNING "id"`;
  return rows.map((row) => row.id);
}

/** Extends the lease and records progress; false when the lease was lost (cancelled, or taken over). */
export async function heartbeat(
  prisma: Prisma,
  job: ClaimedJob,
  leaseMs: number,
  stage: JobStage,
  progressPercent: number,
): Promise<boolean> {
  const count = await prisma.$executeRaw`
    UPDATE "job" SET "lease_expires_at" = now() + make_interval(secs => ${leaseMs / 1000}::double precision),
      "stage" = ${toDbJobStage(stage)}::"job_stage", "progress_percent" = ${progressPercent}, "updated_at" = now()
    WHERE "id" = ${job.id}::uuid AND "lease_token" = ${job.leaseToken}::uuid AND "status" = 'RUNNING'`;
  return count === 1;
}

export async function loadOriginal(
  prisma: Prisma,
  documentId: string,
): Promise<{ contentType: DocumentContentType; sealedDataKey: Uint8Array; ciphertext: Uint8Array } | null> {
  const document = await prisma.document.findUnique({
    where: { id: documentId },
    select: { contentType: true, original: { select: { sealedDataKey: true, ciphertext: true } } },
  });
  if (!document?.original) return null;
  return { contentType: document.contentType, ...document.original };
}

/**
 * Stores the result and marks the job succeeded, only while this worker still
 * holds the lease. The result's primary key is the job id and the insert skips
 * an existing row, so a write replayed after a crash cannot duplicate it.
 */
export async function completeJob(
  prisma: Prisma,
  job: ClaimedJob,
  result: { resultSealed: Uint8Array; expiresAt: Date | null },
  audit: readonly AuditEvent[],
): Promise<boolean> {
  return prisma.$transaction(async (transaction) => {
    const now = new Date();
    const updated = await transaction.job.updateMany({
      where: { id: job.id, leaseToken: job.leaseToken, status: "RUNNING" },
      data: {
        status: "SUCCEEDED",
        stage: null,
        progressPercent: 100,
        finishedAt: now,
        updatedAt: now,
        leaseToken: null,
        leaseOwner: null,
        leaseExpiresAt: null,
      },
    });
    if (updated.count !== 1) return false;
    await transaction.labReportResult.createMany({
      data: [
        { jobId: job.id, userId: job.userId, resultSealed: toBytes(result.resultSealed), createdAt: now, expiresAt: result.expiresAt },
      ],
      skipDuplicates: true,
    });
    await appendAudit(transaction, audit);
    return true;
  }, transactionOptions);
}

/** Ends an attempt that failed: queued again after a backoff, or failed for good. */
export async function failAttempt(
  prisma: Prisma,
  job: ClaimedJob,
  failure: { reason: JobFailureReason; message: string; retryAt?: Date },
): Promise<boolean> {
  const now = new Date();
  const lease = { leaseToken: null, leaseOwner: null, leaseExpiresAt: null };
  const data = failure.retryAt
    ? { status: "QUEUED" as const, stage: null, progressPercent: 0, nextAttemptAt: failure.retryAt, updatedAt: now, ...lease }
    : {
        status: "FAILED" as const,
        stage: null,
        failureReason: toDbFailureReason(failure.reason),
        failureMessage: failure.message,
        finishedAt: now,
        updatedAt: now,
        ...lease,
      };
  const updated = await prisma.job.updateMany({ where: { id: job.id, leaseToken: job.leaseToken, status: "RUNNING" }, data });
  return updated.count === 1;
}

/** Gives a job back on shutdown without counting the interrupted attempt. */
export async function releaseJob(prisma: Prisma, job: ClaimedJob): Promise<void> {
  await prisma.$executeRaw`
    UPDATE "job" SET "status" = 'QUEUED', "stage" = NULL, "progress_percent" = 0, "attempt" = "attempt" - 1,
      "next_attempt_at" = now(), "updated_at" = now(), "lease_token" = NULL, "lease_owner" = NULL, "lease_expires_at" = NULL
    WHERE "id" = ${job.id}::uuid AND "lease_token" = ${job.leaseToken}::uuid AND "status" = 'RUNNING'`;
}

export async function queueDepth(prisma: Prisma): Promise<number> {
  return prisma.job.count({ where: { status: "QUEUED" } });
}

export async function jobStatusOf(prisma: Prisma, jobId: string): Promise<JobStatus | undefined> {
  return (await prisma.job.findUnique({ where: { id: jobId }, select: { status: true } }))?.status;
}

export type { Transaction };
