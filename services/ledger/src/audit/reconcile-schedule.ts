// Runs reconciliation on a timer (LEDGER_RECONCILE_INTERVAL_MS) so a broken
// ledger shows on the ledger_reconciliation_ok gauge without anyone asking.
// Runs never overlap: the next is timed from the end of the previous one.
import type { Logger } from "@trustmesh/runtime";
import type { ReconciliationRecord } from "./reconcile.ts";

export interface ReconcileSchedule {
  start(): void;
  stop(): Promise<void>;
}

export function createReconcileSchedule(options: {
  run(): Promise<ReconciliationRecord>;
  intervalMs: number;
  initialDelayMs: number;
  logger: Logger;
}): ReconcileSchedule {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const next = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = options
        .run()
        .then((report) => {
          const level = report.clean ? "info" : "error";
          options.logger[level](
            {
              clean: report.clean,
              discrepancies: report.discrepancies.length,
              chainIntact: report.chain.intact,
              asOfSequence: String(report.asOfSequence),
            },
            "scheduled reconciliation finished",
          );
        })
        .catch((error: unknown) => options.logger.error({ err: error }, "scheduled reconciliation failed"))
        .finally(() => {
          running = undefined;
          next(options.intervalMs);
        });
    }, delayMs);
    timer.unref();
  };

  return {
    start() {
      if (options.intervalMs > 0) next(options.initialDelayMs);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
