// The retention sweeper: deletes originals past their window (1 hour by default),
// results kept without data-retention consent once theirs ends, and expired
// idempotency records. Each run handles bounded batches; several replicas can
// sweep at once because rows are claimed with SKIP LOCKED.
import type { Logger } from "@trustmesh/runtime";
import type { HealthMetrics } from "./health-metrics.ts";
import type { JobEvents } from "./job-events.ts";
import { deleteExpiredIdempotencyRecords, deleteExpiredOriginals, deleteExpiredResults } from "./store/maintenance-store.ts";
import type { Prisma } from "./store/prisma.ts";

const batchSize = 100;
/** Batches per run at most, so one run ends in bounded time. */
const batchesPerRunMax = 20;

export interface Sweeper {
  start(): void;
  runOnce(): Promise<{ originalsDeleted: number; resultsDeleted: number }>;
  stop(): Promise<void>;
}

export function createSweeper(
  options: { intervalMs: number },
  dependencies: { prisma: Prisma; logger: Logger; events: JobEvents; metrics: HealthMetrics },
): Sweeper {
  const { prisma, logger } = dependencies;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();
  const audit = (action: string, resourceType: "document" | "result", resourceId: string) => ({
    actor: "system:sweeper",
    action,
    resourceType,
    resourceId,
    requestId: `sweep-${new Date().toISOString()}`,
  });

  async function runOnce() {
    const now = new Date();
    let originalsDeleted = 0;
    let resultsDeleted = 0;
    for (let batch = 0; batch < batchesPerRunMax; batch++) {
      const { documentIds, failedJobIds } = await deleteExpiredOriginals(prisma, now, batchSize, (id) =>
        audit("document.original_expired", "document", id),
      );
      originalsDeleted += documentIds.length;
      for (const jobId of failedJobIds) {
        dependencies.events.publish(jobId);
        dependencies.metrics.jobs.inc({ state: "FAILED" });
        dependencies.metrics.failures.inc({ reason: "ORIGINAL_EXPIRED" });
      }
      if (documentIds.length < batchSize) break;
    }
    for (let batch = 0; batch < batchesPerRunMax; batch++) {
      const jobIds = await deleteExpiredResults(prisma, now, batchSize, (id) => audit("result.expired", "result", id));
      resultsDeleted += jobIds.length;
      if (jobIds.length < batchSize) break;
    }
    await deleteExpiredIdempotencyRecords(prisma, now);
    if (originalsDeleted + resultsDeleted > 0)
      logger.info({ originals_deleted: originalsDeleted, results_deleted: resultsDeleted }, "retention sweep");
    return { originalsDeleted, resultsDeleted };
  }

  return {
    start() {
      timer = setInterval(() => {
        current = runOnce().catch((error: Error) => logger.warn({ err: error.message }, "retention sweep failed"));
      }, options.intervalMs);
    },
    runOnce,
    async stop() {
      clearInterval(timer);
      await current;
    },
  };
}
