// The job worker: claims jobs from the Postgres queue, runs the pipeline with
// bounded concurrency and a per-attempt timeout, keeps its lease alive while it
// works, and ends each attempt with success, a retry after exponential backoff,
// or failure. A worker that dies leaves its lease to lapse; another worker (or
// this one after a restart) then claims the job again, and the fenced,
// idempotent result write means the job still ends with exactly one result.
//
// Logs name jobs, stages, reasons and durations only, never document text or values.
import { randomUUID } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import {
  JobFailureReason,
  JobStage,
  LabFlag,
  LabReportResultSchema,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { backoffDelayMs, type Logger, type Sealer } from "@trustmesh/runtime";
import { deriveConsentStatus, type RequiredConsentVersions } from "./consent/consent-status.ts";
import { openDocument } from "./documents/envelope.ts";
import type { HealthMetrics } from "./health-metrics.ts";
import type { JobEvents } from "./job-events.ts";
import { type PipelineDependencies, PipelineFailure, runPipeline } from "./pipeline.ts";
import { latestConsents } from "./store/consent-store.ts";
import { fromDbContentType } from "./store/enums.ts";
import {
  type ClaimedJob,
  cancelActiveJobs,
  claimJobs,
  completeJob,
  failAbandonedJobs,
  failAttempt,
  heartbeat,
  loadOriginal,
  releaseJob,
} from "./store/job-store.ts";
import { type AuditEvent, appendAudit, lockUser, type Prisma, transactionOptions } from "./store/prisma.ts";

export interface WorkerOptions {
  concurrency: number;
  pollMs: number;
  leaseMs: number;
  jobTimeoutMs: number;
  backoffMs: number;
  backoffMaxMs: number;
  /** How long a result is kept without data-retention consent. */
  resultRetentionMs: number;
}

export interface WorkerDependencies {
  prisma: Prisma;
  sealer: Sealer;
  pipeline: PipelineDependencies;
  events: JobEvents;
  metrics: HealthMetrics;
  logger: Logger;
  requiredConsentVersions: RequiredConsentVersions;
}

export interface Worker {
  start(): void;
  /** Stops claiming, interrupts running jobs and gives them back to the queue. */
  stop(): Promise<void>;
}

class LeaseLostError extends Error {
  constructor() {
    super("the job's lease was lost (cancelled, or taken over after a stall)");
    this.name = "LeaseLostError";
  }
}

class ShutdownError extends Error {
  constructor() {
    super("the worker is shutting down");
    this.name = "ShutdownError";
  }
}

const retryableReasons = new Set([JobFailureReason.TIMEOUT, JobFailureReason.INTERPRETER_UNAVAILABLE, JobFailureReason.INTERNAL]);

export function createWorker(options: WorkerOptions, dependencies: WorkerDependencies): Worker {
  const { prisma, logger, metrics, events } = dependencies;
  const workerId = `worker-${randomUUID()}`;
  const tracer = trace.getTracer("@trustmesh/health-processing");
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  /** The poll under way, which stop() waits for. */
  let polling: Promise<void> | undefined;

  const audit = (requestId: string, action: string, resourceType: AuditEvent["resourceType"], resourceId: string): AuditEvent => ({
    actor: "system:worker",
    action,
    resourceType,
    resourceId,
    requestId,
  });

  async function consentAllows(userId: string): Promise<boolean> {
    const { latest, latestGrants } = await latestConsents(prisma, userId);
    return deriveConsentStatus(latest, latestGrants, dependencies.requiredConsentVersions).processingAllowed;
  }

  async function finishFailure(job: ClaimedJob, reason: JobFailureReason, message: string): Promise<void> {
    const retry = retryableReasons.has(reason) && job.attempt < job.maxAttempts;
    const retryAt = retry ? new Date(Date.now() + backoffDelayMs(job.attempt, options.backoffMs, options.backoffMaxMs)) : undefined;
    const applied = await failAttempt(prisma, job, { reason, message, ...(retryAt ? { retryAt } : {}) });
    metrics.failures.inc({ reason: JobFailureReason[reason] ?? "INTERNAL" });
    if (applied) {
      metrics.jobs.inc({ state: retry ? "QUEUED" : "FAILED" });
      events.publish(job.id);
    }
    logger.info({ job_id: job.id, attempt: job.attempt, reason: JobFailureReason[reason], retry }, "job attempt failed");
  }

  async function process(job: ClaimedJob, controller: AbortController): Promise<void> {
    const requestId = randomUUID();
    const startedAt = performance.now();
    metrics.jobs.inc({ state: "RUNNING" });
    events.publish(job.id);
    if (!(await consentAllows(job.userId))) {
      const cancelled = await prisma.$transaction(async (transaction) => {
        await lockUser(transaction, job.userId);
        return cancelActiveJobs(transaction, job.userId, "Processing stopped because a required consent was withdrawn.");
      }, transactionOptions);
      for (const id of cancelled) events.publish(id);
      metrics.jobs.inc({ state: "CANCELLED" }, cancelled.length);
      return;
    }
    const original = await loadOriginal(prisma, job.documentId);
    if (!original) {
      await finishFailure(
        job,
        JobFailureReason.ORIGINAL_EXPIRED,
        "The document was deleted at the end of its retention window; upload it again.",
      );
      return;
    }
    await prisma.$transaction(
      (transaction) => appendAudit(transaction, [audit(requestId, "document.read_original", "document", job.documentId)]),
      transactionOptions,
    );
    const content = openDocument(original, job.documentId, dependencies.sealer);
    const timeout = AbortSignal.timeout(options.jobTimeoutMs);
    const signal = AbortSignal.any([controller.signal, timeout]);
    let stage = JobStage.EXTRACTING_TEXT;
    let progress = 5;
    const keepAlive = setInterval(
      () => {
        heartbeat(prisma, job, options.leaseMs, stage, progress)
          .then((held) => {
            if (!held) controller.abort(new LeaseLostError());
          })
          .catch((error: Error) => logger.warn({ job_id: job.id, err: error.message }, "lease renewal failed"));
      },
      Math.max(100, Math.floor(options.leaseMs / 3)),
    );
    try {
      const result = await runPipeline(dependencies.pipeline, {
        jobId: job.id,
        documentId: job.documentId,
        content,
        contentType: fromDbContentType(original.contentType),
        signal,
        onStage: async (next, percent) => {
          stage = next;
          progress = percent;
          if (!(await heartbeat(prisma, job, options.leaseMs, next, percent))) throw new LeaseLostError();
          events.publish(job.id);
        },
        onStageDone: (done, seconds) => metrics.stageDuration.observe({ stage: JobStage[done] ?? "UNKNOWN" }, seconds),
      });
      // Without data-retention consent the result is kept only as long as originals are.
      const keepResult = await prisma.consentRecord.findFirst({
        where: { userId: job.userId, type: "DATA_RETENTION" },
        orderBy: { recordedAt: "desc" },
        select: { action: true },
      });
      const expiresAt = keepResult?.action === "GRANTED" ? null : new Date(Date.now() + options.resultRetentionMs);
      const sealed = dependencies.sealer.seal(toBinary(LabReportResultSchema, result), `result:${job.id}`);
      const stored = await completeJob(prisma, job, { resultSealed: sealed, expiresAt }, [
        audit(requestId, "result.write", "result", job.id),
      ]);
      if (!stored) throw new LeaseLostError();
      for (const labResult of result.labResults) metrics.flags.inc({ flag: LabFlag[labResult.flag] ?? "UNSPECIFIED" });
      metrics.jobs.inc({ state: "SUCCEEDED" });
      metrics.jobDuration.observe({ outcome: "succeeded" }, (performance.now() - startedAt) / 1000);
      events.publish(job.id);
      logger.info({ job_id: job.id, attempt: job.attempt, results: result.labResults.length }, "job succeeded");
    } catch (error) {
      metrics.jobDuration.observe({ outcome: "failed" }, (performance.now() - startedAt) / 1000);
      const reason = signal.reason ?? error;
      if (reason instanceof ShutdownError) {
        await releaseJob(prisma, job);
        return;
      }
      if (reason instanceof LeaseLostError || error instanceof LeaseLostError) {
        logger.info({ job_id: job.id }, "job lease lost; leaving the job to its new state");
        return;
      }
      if (timeout.aborted) {
        await finishFailure(job, JobFailureReason.TIMEOUT, "Processing took longer than allowed.");
        return;
      }
      if (error instanceof PipelineFailure) {
        await finishFailure(job, error.reason, error.message);
        return;
      }
      // Only the error's class goes to the log: messages of parsing libraries could quote the document.
      logger.error({ job_id: job.id, error_type: error instanceof Error ? error.name : typeof error }, "job attempt failed unexpectedly");
      await finishFailure(job, JobFailureReason.INTERNAL, "An unexpected error stopped processing; it will be retried.");
    } finally {
      clearInterval(keepAlive);
      content.fill(0);
    }
  }

  function launch(job: ClaimedJob): void {
    const controller = new AbortController();
    const done = tracer
      .startActiveSpan("healthprocessing.job", { attributes: { "job.id": job.id, "job.attempt": job.attempt } }, async (span) => {
        try {
          await process(job, controller);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          logger.error({ job_id: job.id, error_type: error instanceof Error ? error.name : typeof error }, "job bookkeeping failed");
        } finally {
          span.end();
        }
      })
      .finally(() => {
        running.delete(job.id);
        if (!stopping) void poll();
      });
    running.set(job.id, { controller, done });
  }

  async function pollOnce(): Promise<void> {
    try {
      for (const id of await failAbandonedJobs(prisma, "Processing stopped unexpectedly on every attempt.")) {
        metrics.jobs.inc({ state: "FAILED" });
        metrics.failures.inc({ reason: "INTERNAL" });
        events.publish(id);
      }
      const free = options.concurrency - running.size;
      if (free <= 0) return;
      for (const job of await claimJobs(prisma, workerId, free, options.leaseMs)) {
        // A job claimed while the worker began to stop is given back at once, its attempt uncounted.
        if (stopping) await releaseJob(prisma, job);
        else launch(job);
      }
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, "job queue poll failed");
    }
  }

  function poll(): Promise<void> {
    if (stopping || polling) return polling ?? Promise.resolve();
    polling = pollOnce().finally(() => {
      polling = undefined;
    });
    return polling;
  }

  return {
    start() {
      timer = setInterval(() => void poll(), options.pollMs);
      void poll();
    },
    async stop() {
      stopping = true;
      clearInterval(timer);
      // A poll under way may still claim jobs; it gives them back, and then nothing new starts.
      await polling;
      for (const { controller } of running.values()) controller.abort(new ShutdownError());
      await Promise.allSettled([...running.values()].map((entry) => entry.done));
    },
  };
}
