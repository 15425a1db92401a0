// Time-driven work, in bounded batches: claimable payments whose window passed
// are queued so the worker returns their funds; open requests past their time
// expire; idempotency keys past their retention are forgotten.
import type { Logger } from "@trustmesh/runtime";
import { sweepIdempotencyKeys } from "../store/idempotency-store.ts";
import { enqueueJob } from "../store/job-store.ts";
import { type Prisma, transactionOptions } from "../store/prisma.ts";
import { expireRequests } from "../store/request-store.ts";

export interface SweeperOptions {
  intervalMs: number;
  batchMax: number;
}

export interface Sweeper {
  start(): void;
  /** One sweep now; resolves when it is done. */
  sweep(): Promise<void>;
  stop(): Promise<void>;
}

export function createSweeper(options: SweeperOptions, dependencies: { prisma: Prisma; logger: Logger; onQueued: () => void }): Sweeper {
  const { prisma, logger } = dependencies;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;

  async function sweepOnce(): Promise<void> {
    const due = await prisma.payment.findMany({
      where: { state: "AWAITING_CLAIM", recipientUserId: null, claimExpiresAt: { lte: new Date() }, job: { state: "WAITING" } },
      select: { id: true },
      take: options.batchMax,
    });
    if (due.length > 0) {
      await prisma.$transaction(async (transaction) => {
        for (const payment of due) await enqueueJob(transaction, payment.id);
      }, transactionOptions);
      dependencies.onQueued();
    }
    const expired = await expireRequests(prisma, options.batchMax);
    const forgotten = await prisma.$transaction((transaction) => sweepIdempotencyKeys(transaction, options.batchMax), transactionOptions);
    if (due.length + expired + forgotten > 0)
      logger.info({ claims_expiring: due.length, requests_expired: expired, keys_forgotten: forgotten }, "sweep done");
  }

  function sweep(): Promise<void> {
    sweeping ??= sweepOnce()
      .catch((error: Error) => logger.warn({ err: error.message }, "sweep failed"))
      .finally(() => {
        sweeping = undefined;
      });
    return sweeping;
  }

  return {
    start() {
      timer = setInterval(() => void sweep(), options.intervalMs);
    },
    sweep,
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}
