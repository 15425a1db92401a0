// The payment job queue in Postgres (DESIGN.md §4): one row per payment,
// written in the transaction that creates or changes the payment, claimed by
// workers with FOR UPDATE SKIP LOCKED under a lease. A worker that dies leaves
// its lease to lapse and another worker (or itself after a restart) claims the
// job again; every step is idempotent, so a job run twice does its work once.
import type { Client, Prisma, Transaction } from "./prisma.ts";

export interface ClaimedJob {
  paymentId: string;
  attempts: number;
  leaseToken: string;
}

export async function claimJobs(prisma: Prisma, workerId: string, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
  if (limit <= 0) return [];
  const rows = await prisma.$queryRaw<{ payment_id: string; attempts: number; lease_token: string }[]>`
    UPDATE "payment_job" SET "state" = 'RUNNING', "lease_owner" = ${workerId}, "lease_token" = gen_random_uuid(),
      "lease_expires_at" = now() + make_interval(secs => ${leaseMs / 1000}::double precision), "updated_at" = now()
    WHERE "payment_id" IN (
      SELECT "payment_id" FROM "payment_job"
      WHERE ("state" = 'QUEUED' AND "run_at" <= now()) OR ("state" = 'RUNNING' AND "lease_expires_at" < now())
      ORDER BY "run_at"
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING "payment_id"::text, "attempts", "lease_token"::text`;
  return rows.map((row) => ({ paymentId: row.payment_id, attempts: row.attempts, leaseToken: row.lease_token }));
}

/** Extends the lease; false when it was lost (taken over after a stall). */
export async function renewLease(prisma: Prisma, job: ClaimedJob, leaseMs: number): Promise<boolean> {
  const count = await prisma.$executeRaw`
    UPDATE "payment_job" SET "lease_expires_at" = now() + make_interval(secs => ${leaseMs / 1000}::double precision)
    WHERE "payment_id" = ${job.paymentId}::uuid AND "lease_token" = ${job.leaseToken}::uuid AND "state" = 'RUNNING'`;
  return count === 1;
}

/**
 * Ends a run: DONE (nothing more to do), WAITING (until an outside event, a
 * claim or its expiry, queues it again) or QUEUED again at `runAt` (a retry
 * after a failure, or a later look at a rail). Fenced by the lease token, and
 * a job queued again while it ran (a claim arriving) stays queued.
 */
export async function endRun(
  prisma: Prisma,
  job: ClaimedJob,
  next: { state: "DONE" | "WAITING" } | { state: "QUEUED"; runAt: Date; attempts: number; error?: string },
): Promise<boolean> {
  const now = new Date();
  const data =
    next.state === "QUEUED"
      ? { state: "QUEUED" as const, runAt: next.runAt, attempts: next.attempts, lastError: next.error?.slice(0, 500) ?? null }
      : { state: next.state, attempts: 0, lastError: null };
  const updated = await prisma.paymentJob.updateMany({
    where: { paymentId: job.paymentId, leaseToken: job.leaseToken, state: "RUNNING" },
    data: { ...data, leaseOwner: null, leaseToken: null, leaseExpiresAt: null, updatedAt: now },
  });
  return updated.count === 1;
}

/** Queues a payment's job to run now, whatever it was doing (a claim, an expiry). */
export async function enqueueJob(transaction: Transaction, paymentId: string, runAt = new Date()): Promise<void> {
  await transaction.$executeRaw`
    INSERT INTO "payment_job" ("payment_id", "state", "run_at", "attempts", "updated_at")
    VALUES (${paymentId}::uuid, 'QUEUED', ${runAt}, 0, now())
    ON CONFLICT ("payment_id") DO UPDATE SET "state" = 'QUEUED', "run_at" = EXCLUDED."run_at",
      "lease_owner" = NULL, "lease_token" = NULL, "lease_expires_at" = NULL, "updated_at" = now()`;
}

/** Jobs waiting to run now, for the queue-depth gauge. */
export async function queueDepth(client: Client): Promise<number> {
  const rows = await client.$queryRaw<{ count: bigint }[]>`
    SELECT count(*) AS "count" FROM "payment_job" WHERE "state" = 'QUEUED' AND "run_at" <= now()`;
  return Number(rows[0]?.count ?? 0n);
}
