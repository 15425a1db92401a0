// The batch writer: every posting RPC, and the expiry sweeper, hand their
// operations to one writer per process, which commits them in batches — one
// database transaction, one chain-head lock and one WAL flush for many
// operations (group commit). There is no fixed wait: while a batch commits,
// newly arrived operations queue, and the next batch takes them all (up to
// batchSizeMax), so a lone request goes straight through and a crowd shares a
// commit. LEDGER_BATCH_LINGER_MS can add a short wait to gather larger batches.
//
// At most LEDGER_BATCHES_IN_FLIGHT batches are in flight: the chain head
// serialises commits anyway, so more would only queue at its lock. A batch
// starts only once the one before it is planned: it is then planned on that
// batch's result (the tip), where starting earlier would plan it beside it, on
// the same head, and one of the two would be refused and planned again; the
// operations that arrive meanwhile join it, so batches under moderate load are
// fewer and larger, and still read while the one before them is written.
//
// And a batch goes in flight beside another only when at least
// LEDGER_PIPELINE_OPERATIONS_MIN operations wait. Overlap pays for a large
// batch, whose planning in the service takes about as long as PostgreSQL's
// write of the one before; a handful of transfers plans in well under a
// millisecond and then only waits at the head's lock, while it keeps a second
// backend busy and splits what would have been one batch into two, each with
// a batch's fixed cost on both sides. Under steady single calls that fixed
// cost was most of PostgreSQL's work and a sixth of the service's
// (services/ledger/README.md, "Session 17").
//
// A batch is work for many callers, so it is traced as its own trace rather
// than inside whichever caller happened to start it: a root span,
// "ledger.commit_batch", linked to every caller's span, with each caller's span
// linked back to it. The batch's Postgres spans are its children. In a trace
// viewer a caller's trace leads to the commit that carried its transfer, and
// the commit to everyone it carried.

import { Code } from "@connectrpc/connect";
import { context, type Link, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { DomainError, type Logger, resourceExhausted } from "@trustmesh/runtime";
import type { Job, Outcome } from "./domain/engine.ts";
import type { TransactionRecord } from "./domain/records.ts";
import type { LedgerMetrics } from "./metrics.ts";
import type { CommittedBatch } from "./store/batch-commit.ts";
import { isRetryable } from "./store/database.ts";

export interface JobResult {
  outcomes: Outcome[];
  /** Transactions named by the job's resolve operations, as read by the batch. */
  pendings: ReadonlyMap<string, TransactionRecord>;
}

export interface TransactionWriter {
  /** Queues a job; resolves once its batch committed (or rejected it). */
  submit(job: Job, signal?: AbortSignal): Promise<JobResult>;
  /** Operations waiting, for the queue-depth gauge. */
  queuedOperations(): number;
  /** Refuses new jobs and waits until queued ones are committed. */
  close(): Promise<void>;
}

export interface TransactionWriterOptions {
  /** Commits a batch; calls onPlanned (at most once counts) when its plan is made and the next batch may start. */
  commit(jobs: readonly Job[], onPlanned: () => void): Promise<CommittedBatch>;
  /** Most operations in one database transaction; a larger job is committed alone. */
  batchSizeMax: number;
  /** Extra wait for more operations before a batch that is not yet full; 0 commits at once. */
  lingerMs: number;
  /**
   * Batches on their way to the database at once. Commits are serialised by
   * the chain head anyway; a second batch in flight has its statements waiting
   * at the head's lock when the first commits, instead of starting a round trip
   * then, and the service parses and plans one batch while PostgreSQL writes
   * the other.
   */
  batchesInFlightMax: number;
  /** Fewest operations waiting for a batch to start while another is in flight; 1 starts one for any. */
  pipelineOperationsMin: number;
  /** Most operations waiting; beyond it callers get RESOURCE_EXHAUSTED instead of unbounded latency. */
  queueOperationsMax: number;
  /** Attempts of one batch after deadlocks, serialization failures or lock timeouts. */
  attemptsMax: number;
  metrics: LedgerMetrics;
  logger: Logger;
}

interface Waiting {
  job: Job;
  signal: AbortSignal | undefined;
  /** The caller's span when it submitted, if recording: its batch links to it and it to its batch. */
  callerSpan: Span | undefined;
  resolve(result: JobResult): void;
  reject(error: unknown): void;
}

const tracer = trace.getTracer("@trustmesh/ledger");

const operationsIn = (batch: readonly Waiting[]) => batch.reduce((sum, waiting) => sum + waiting.job.operations.length, 0);

/** The recording span active now, or undefined: a link to a span nobody records leads nowhere. */
function recordingSpan(): Span | undefined {
  const span = trace.getActiveSpan();
  return span?.isRecording() ? span : undefined;
}

export function createTransactionWriter(options: TransactionWriterOptions): TransactionWriter {
  const queue: Waiting[] = [];
  let queued = 0;
  let closed = false;
  let idle: (() => void) | undefined;

  const take = (): Waiting[] => {
    const batch: Waiting[] = [];
    let operations = 0;
    while (queue.length > 0) {
      const next = queue[0] as Waiting;
      if (batch.length > 0 && operations + next.job.operations.length > options.batchSizeMax) break;
      queue.shift();
      queued -= next.job.operations.length;
      // A caller that gave up before its batch started is not written: nothing happened, so a retry is safe.
      if (next.signal?.aborted) {
        next.reject(next.signal.reason);
        continue;
      }
      batch.push(next);
      operations += next.job.operations.length;
    }
    return batch;
  };

  const record = (committed: CommittedBatch, operationCount: number, startedAt: number) => {
    options.metrics.batchOperations.observe(operationCount);
    options.metrics.batchDuration.observe((performance.now() - startedAt) / 1000);
    for (const transaction of committed.plan.transactions) {
      if (transaction.kind === "EXPIRE_PENDING") options.metrics.expiredPendings.inc();
      for (const entry of transaction.entries) {
        if (entry.direction === "CREDIT") options.metrics.postings.inc({ currency: entry.currency, kind: transaction.kind });
      }
    }
    for (const outcomes of committed.plan.outcomes) {
      for (const outcome of outcomes)
        if (outcome.status === "rejected") options.metrics.rejections.inc({ reason: outcome.rejection.reason });
    }
  };

  const commitWithRetries = async (batch: Waiting[], onPlanned: () => void): Promise<CommittedBatch> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await options.commit(
          batch.map((waiting) => waiting.job),
          onPlanned,
        );
      } catch (error) {
        if (!isRetryable(error) || attempt >= options.attemptsMax) throw error;
        options.logger.warn({ err: error, attempt }, "ledger batch hit a lock conflict; retrying");
      }
    }
  };

  const run = async (batch: Waiting[], onPlanned: () => void, span: Span): Promise<void> => {
    const operationCount = operationsIn(batch);
    const startedAt = performance.now();
    try {
      const committed = await commitWithRetries(batch, onPlanned);
      record(committed, operationCount, startedAt);
      batch.forEach((waiting, index) => {
        waiting.resolve({ outcomes: committed.plan.outcomes[index] as Outcome[], pendings: committed.pendings });
      });
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: "the batch failed" });
      if (batch.length > 1) {
        // Commit each job on its own, so whatever failed fails alone and the rest still commit.
        options.logger.error({ err: error, jobs: batch.length }, "ledger batch failed; committing its jobs one by one");
        for (const waiting of batch) await run([waiting], onPlanned, span);
        return;
      }
      options.logger.error({ err: error }, "ledger batch failed");
      batch[0]?.reject(error);
    }
  };

  /** Runs a batch in a trace of its own, linked both ways to its callers' spans. */
  const runTraced = (batch: Waiting[], onPlanned: () => void): Promise<void> => {
    const links: Link[] = [];
    for (const waiting of batch) if (waiting.callerSpan) links.push({ context: waiting.callerSpan.spanContext() });
    const attributes = { "ledger.batch.jobs": batch.length, "ledger.batch.operations": operationsIn(batch) };
    // ROOT_CONTEXT: the batch must not run inside the first caller's context
    // (its span, its deadline scope), which pump's setImmediate carried here.
    return context.with(ROOT_CONTEXT, () =>
      tracer.startActiveSpan("ledger.commit_batch", { kind: SpanKind.INTERNAL, links, attributes }, (span) => {
        if (span.isRecording()) {
          const toBatch: Link = { context: span.spanContext() };
          for (const waiting of batch) waiting.callerSpan?.addLink(toBatch);
        }
        return run(batch, onPlanned, span).finally(() => span.end());
      }),
    );
  };

  let inFlight = 0;
  let scheduled = false;
  // A batch has started and not yet been planned: the next one waits for its plan.
  let planning = false;

  /** Whether a batch may start now: a free slot, the one before it planned, and enough waiting to run beside another. */
  const mayStart = () => inFlight < options.batchesInFlightMax && !planning && (inFlight === 0 || queued >= options.pipelineOperationsMin);

  const pump = () => {
    scheduled = false;
    while (queue.length > 0 && mayStart()) {
      const batch = take();
      if (batch.length === 0) continue;
      inFlight++;
      planning = true;
      let planned = false;
      const onPlanned = () => {
        if (planned) return;
        planned = true;
        planning = false;
        if (queue.length > 0) schedule();
      };
      void runTraced(batch, onPlanned).finally(() => {
        inFlight--;
        // A batch that failed before its plan frees the way too.
        onPlanned();
        if (queue.length > 0) schedule();
        else if (inFlight === 0) idle?.();
      });
    }
  };

  const schedule = () => {
    if (scheduled || !mayStart()) return;
    scheduled = true;
    if (options.lingerMs > 0 && queued < options.batchSizeMax) setTimeout(pump, options.lingerMs);
    // setImmediate lets calls that arrived in the same turn of the event loop join the batch.
    else setImmediate(pump);
  };

  return {
    submit(job, signal) {
      if (closed) return Promise.reject(new DomainError(Code.Unavailable, "the ledger is shutting down", { reason: "SHUTTING_DOWN" }));
      if (queued + job.operations.length > options.queueOperationsMax) {
        return Promise.reject(resourceExhausted("the ledger's write queue is full; retry shortly", "WRITE_QUEUE_FULL", 100));
      }
      return new Promise<JobResult>((resolve, reject) => {
        queue.push({ job, signal, callerSpan: recordingSpan(), resolve, reject });
        queued += job.operations.length;
        schedule();
      });
    },
    queuedOperations: () => queued,
    close() {
      closed = true;
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        idle = resolve;
      });
    },
  };
}
