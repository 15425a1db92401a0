// Verifies the whole audit chain at start and then on a schedule, and reports the
// outcome as healthprocessing_audit_chain_ok, so tampering pages an operator even
// when nobody calls VerifyAuditLog. Each run walks the chain in bounded windows;
// one run at a time per process.
import type { Logger } from "@trustmesh/runtime";
import type { HealthMetrics } from "../health-metrics.ts";
import { verifyAuditLog } from "../service/audit-handlers.ts";
import type { Prisma } from "../store/prisma.ts";

/** Entries verified per window; the chain is walked window after window. */
const windowEntries = 100_000;

export interface AuditChainMonitor {
  /**
   * Verifies once now, then every intervalMs, without holding up the start: the
   * gauge is registered only by the first verification, so nothing reads a value
   * that no check produced.
   */
  start(): void;
  runOnce(): Promise<{ intact: boolean; entriesChecked: number }>;
  stop(): Promise<void>;
}

export function createAuditChainMonitor(
  options: { intervalMs: number },
  dependencies: { prisma: Prisma; logger: Logger; metrics: HealthMetrics },
): AuditChainMonitor {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();

  async function runOnce() {
    let entriesChecked = 0;
    let from = 0n;
    for (;;) {
      const window = await verifyAuditLog(dependencies, from, windowEntries);
      entriesChecked += window.entriesChecked;
      if (!window.intact) {
        dependencies.logger.error(
          { sequence: window.broken?.entry.sequence.toString(), reason: window.broken?.reason },
          "audit chain broken",
        );
        dependencies.metrics.recordAuditChainVerified(false);
        return { intact: false, entriesChecked };
      }
      if (window.nextSequence === 0n) break;
      from = window.nextSequence;
    }
    dependencies.metrics.recordAuditChainVerified(true);
    return { intact: true, entriesChecked };
  }

  function runLogged() {
    if (stopped) return current;
    current = runOnce().catch((error: unknown) => dependencies.logger.warn({ err: error }, "audit chain verification failed to run"));
    return current;
  }

  return {
    start() {
      void runLogged();
      timer = setInterval(runLogged, options.intervalMs);
      timer.unref();
    },
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
