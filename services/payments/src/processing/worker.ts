// The job worker: claims payment jobs from the Postgres queue with bounded
// concurrency, keeps each lease alive while it works, and ends each run with
// done, waiting, a later look, or a retry after exponential backoff. After
// `attemptsMax` failed attempts in a row the payment is marked to be given up:
// the processor then releases any reservation and fails it (RETRIES_EXHAUSTED),
// and that compensation itself keeps being retried at the longest backoff,
// because a payment must end completed or failed, never stay half done.
import { randomUUID } from "node:crypto";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { backoffDelayMs, type Logger } from "@trustmesh/runtime";
import type { PaymentsMetrics } from "../payments-metrics.ts";
import { type ClaimedJob, claimJobs, endRun, renewLease } from "../store/job-store.ts";
import type { Prisma } from "../store/prisma.ts";
import type { PaymentProcessor } from "./processor.ts";

export interface WorkerOptions {
  concurrency: number;
  pollMs: number;
  leaseMs: number;
  /** Failed attempts in a row before the payment is given up. */
  attemptsMax: number;
  backoffMs: number;
  backoffMaxMs: number;
}

export interface WorkerDependencies {
  prisma: Prisma;
  processor: PaymentProcessor;
  metrics: PaymentsMetrics;
  logger: Logger;
}

export interface Worker {
  start(): void;
  /** Stops claiming and waits for runs under way; their leases lapse if they cannot finish. */
  stop(): Promise<void>;
  /** Claims and runs due jobs now instead of at the next poll. */
  poke(): void;
}

export function createWorker(options: WorkerOptions, dependencies: WorkerDependencies): Worker {
  const { prisma, logger, metrics, processor } = dependencies;
  const workerId = `worker-${randomUUID()}`.slice(0, 64);
  const tracer = trace.getTracer("@trustmesh/payments");
  const running = new Map<string, Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  let polling: Promise<void> | undefined;
  let pollAgain = false;

  async function giveUp(job: ClaimedJob): Promise<void> {
    await prisma.payment.updateMany({ where: { id: job.paymentId, abandonRequested: false }, data: { abandonRequested: true } });
  }

  async function run(job: ClaimedJob): Promise<void> {
    const keepAlive = setInterval(
      () => {
        renewLease(prisma, job, options.leaseMs).catch((error: Error) =>
          logger.warn({ payment_id: job.paymentId, err: error.message }, "lease renewal failed"),
        );
      },
      Math.max(100, Math.floor(options.leaseMs / 3)),
    );
    try {
      const outcome = await processor.advance(job.paymentId);
      if (outcome.next === "later")
        await endRun(prisma, job, { state: "QUEUED", runAt: new Date(Date.now() + outcome.delayMs), attempts: 0 });
      else await endRun(prisma, job, { state: outcome.next === "wait" ? "WAITING" : "DONE" });
    } catch (error) {
      const attempts = job.attempts + 1;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const payment = await prisma.payment.findUnique({ where: { id: job.paymentId }, select: { kind: true } }).catch(() => null);
      metrics.retries.inc({ kind: payment?.kind.toLowerCase() ?? "transfer" });
      if (attempts >= options.attemptsMax) await giveUp(job).catch(() => {});
      const delayMs = backoffDelayMs(attempts, options.backoffMs, options.backoffMaxMs);
      // Only the error's class and message: neither carries card data, which never reaches the worker.
      logger.warn({ payment_id: job.paymentId, attempt: attempts, retry_in_ms: delayMs, err: message }, "payment step failed; retrying");
      await endRun(prisma, job, { state: "QUEUED", runAt: new Date(Date.now() + delayMs), attempts, error: message }).catch(
        (endError: Error) =>
          logger.warn({ payment_id: job.paymentId, err: endError.message }, "could not reschedule the job; its lease will lapse"),
      );
    } finally {
      clearInterval(keepAlive);
    }
  }

  function launch(job: ClaimedJob): void {
    const done = tracer
      .startActiveSpan("payments.job", { attributes: { "payment.id": job.paymentId, "job.attempt": job.attempts } }, async (span) => {
        try {
          await run(job);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          logger.error(
            { payment_id: job.paymentId, err: error instanceof Error ? error.message : String(error) },
            "job bookkeeping failed",
          );
        } finally {
          span.end();
        }
      })
      .finally(() => {
        running.delete(job.paymentId);
        if (!stopping) void poll();
      });
    running.set(job.paymentId, done);
  }

  async function pollOnce(): Promise<void> {
    try {
      const free = options.concurrency - running.size;
      if (free <= 0) return;
      const jobs = await claimJobs(prisma, workerId, free, options.leaseMs);
      for (const job of jobs) {
        if (stopping || running.has(job.paymentId)) {
          // Given back at once, due now.
          await endRun(prisma, job, { state: "QUEUED", runAt: new Date(), attempts: job.attempts });
        } else launch(job);
      }
      if (jobs.length === free) pollAgain = true;
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, "job queue poll failed");
    }
  }

  function poll(): Promise<void> {
    if (stopping) return Promise.resolve();
    if (polling) {
      pollAgain = true;
      return polling;
    }
    polling = pollOnce().finally(() => {
      polling = undefined;
      if (pollAgain && !stopping) {
        pollAgain = false;
        void poll();
      }
    });
    return polling;
  }

  return {
    start() {
      timer = setInterval(() => void poll(), options.pollMs);
      void poll();
    },
    poke() {
      void poll();
    },
    async stop() {
      stopping = true;
      clearInterval(timer);
      await polling;
      await Promise.allSettled([...running.values()]);
    },
  };
}
