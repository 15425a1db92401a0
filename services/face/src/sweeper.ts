// Purges expired validation records (and expired idempotency records) on a
// timer, as DynamoDB's TTL did for the system face replaces. Each run deletes
// in bounded batches and stops after a bounded number of them, so one run
// never holds the database for long; what is left waits for the next run.
import type { Logger } from "@trustmesh/runtime";
import type { FaceMetrics } from "./face-metrics.ts";
import type { FaceStore } from "./store.ts";

export interface Sweeper {
  /** One purge now; resolves with the number of validation records deleted. */
  sweepOnce(): Promise<number>;
  /** Stops the timer and waits for a running purge. */
  stop(): Promise<void>;
}

export interface SweeperOptions {
  store: Pick<FaceStore, "purgeExpired">;
  metrics: Pick<FaceMetrics, "recordsSwept">;
  logger: Logger;
  intervalMs: number;
  batchMax: number;
  now?: () => Date;
}

/** Batches one run deletes at most. */
const batchesPerRunMax = 20;

export function startSweeper(options: SweeperOptions): Sweeper {
  const now = options.now ?? (() => new Date());
  let running: Promise<number> | undefined;
  let stopped = false;

  async function purge(): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < batchesPerRunMax && !stopped; batch++) {
      const deleted = await options.store.purgeExpired(now(), options.batchMax);
      total += deleted.validations;
      options.metrics.recordsSwept.inc(deleted.validations);
      if (deleted.validations < options.batchMax && deleted.idempotency < options.batchMax) break;
    }
    if (total > 0) options.logger.info({ deleted: total }, "expired face validation records purged");
    return total;
  }

  function sweepOnce(): Promise<number> {
    // Runs never overlap: a timer tick during a long purge joins it.
    running ??= purge().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => {
    sweepOnce().catch((error: unknown) => options.logger.warn({ err: error }, "purging expired face records failed; retrying next run"));
  }, options.intervalMs);
  timer.unref();

  return {
    sweepOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
