// Goal: the batch writer starts a batch only once the batch before it has
// been planned — so the next one is planned on it, not beside it — keeps at
// most LEDGER_BATCHES_IN_FLIGHT batches in flight, sends one beside another
// only once LEDGER_PIPELINE_OPERATIONS_MIN operations wait, gathers what
// arrived meanwhile into the next batch, and is not stalled by a batch that
// failed before it was planned. Each batch is a root span linked both ways to the
// spans of the calls it carried, and says when it failed.
import assert from "node:assert/strict";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { createLogger, createMetrics } from "@trustmesh/runtime";
import type { Job } from "../src/domain/engine.ts";
import { createLedgerMetrics } from "../src/metrics.ts";
import type { CommittedBatch } from "../src/store/batch-commit.ts";
import { createTransactionWriter } from "../src/writer.ts";

interface StartedBatch {
  keys: string[];
  planned(): void;
  commit(): void;
  fail(error: Error): void;
}

function jobOf(key: string): Job {
  return { operations: [{ type: "transfer", idempotencyKey: key } as Job["operations"][number]], atomic: false };
}

function emptyCommit(jobs: readonly Job[]): CommittedBatch {
  return {
    plan: {
      outcomes: jobs.map(() => []),
      transactions: [],
      changedBalances: [],
      openedPendings: [],
      closedPendings: [],
      head: { sequence: 0n, hash: Buffer.alloc(32), createdAt: new Date(0) },
    },
    pendings: new Map(),
  };
}

function startWriter(batchesInFlightMax: number, pipelineOperationsMin = 1) {
  const started: StartedBatch[] = [];
  const rpcMetrics = createMetrics({ serviceName: "writer-test" });
  const writer = createTransactionWriter({
    commit: (jobs, onPlanned) =>
      new Promise<CommittedBatch>((resolve, reject) => {
        started.push({
          keys: jobs.map((job) => (job.operations[0] as { idempotencyKey: string }).idempotencyKey),
          planned: onPlanned,
          commit: () => resolve(emptyCommit(jobs)),
          fail: reject,
        });
      }),
    batchSizeMax: 1000,
    lingerMs: 0,
    batchesInFlightMax,
    pipelineOperationsMin,
    queueOperationsMax: 1000,
    attemptsMax: 1,
    metrics: createLedgerMetrics({
      registry: rpcMetrics.registry,
      readChainLength: async () => 0n,
      readOpenPendingCount: async () => 0,
      queueDepth: () => 0,
    }),
    logger: createLogger({ name: "writer-test", level: "silent" }),
  });
  return { writer, started };
}

// The writer gathers with setImmediate after promise callbacks: two turns of the loop let it act.
const settle = async () => {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
};

describe("transaction writer", () => {
  it("starts the next batch when the one before it is planned, with everything that arrived meanwhile", async () => {
    const { writer, started } = startWriter(2);
    const first = writer.submit(jobOf("a"));
    await settle();
    assert.deepEqual(
      started.map((batch) => batch.keys),
      [["a"]],
    );
    const later = [writer.submit(jobOf("b")), writer.submit(jobOf("c"))];
    await settle();
    assert.equal(started.length, 1, "a second batch waits for the first one's plan, though a slot is free");
    started[0]?.planned();
    await settle();
    assert.deepEqual(
      started.map((batch) => batch.keys),
      [["a"], ["b", "c"]],
    );
    started[1]?.planned();
    const last = writer.submit(jobOf("d"));
    await settle();
    assert.equal(started.length, 2, "no third batch while two are in flight");
    started[0]?.commit();
    await first;
    await settle();
    assert.deepEqual(started[2]?.keys, ["d"]);
    started[1]?.commit();
    started[2]?.planned();
    started[2]?.commit();
    await Promise.all([...later, last]);
  });

  it("sends a batch beside another only once enough operations wait, and the rest when the first commits", async () => {
    const { writer, started } = startWriter(2, 3);
    const first = writer.submit(jobOf("a"));
    await settle();
    started[0]?.planned();
    const waiting = [writer.submit(jobOf("b")), writer.submit(jobOf("c"))];
    await settle();
    assert.equal(started.length, 1, "two operations waiting are fewer than the pipeline's minimum of three");
    waiting.push(writer.submit(jobOf("d")));
    await settle();
    assert.deepEqual(started[1]?.keys, ["b", "c", "d"], "the third one starts a batch beside the first");
    started[1]?.planned();
    const last = writer.submit(jobOf("e"));
    await settle();
    assert.equal(started.length, 2);
    started[0]?.commit();
    started[1]?.commit();
    await Promise.all([first, ...waiting]);
    await settle();
    assert.deepEqual(started[2]?.keys, ["e"], "with nothing in flight, one operation is enough");
    started[2]?.planned();
    started[2]?.commit();
    await last;
  });

  it("lets the next batch start when a batch fails before its plan", async () => {
    const { writer, started } = startWriter(2);
    const failing = writer.submit(jobOf("a"));
    await settle();
    const next = writer.submit(jobOf("b"));
    await settle();
    assert.equal(started.length, 1);
    started[0]?.fail(new Error("connection lost"));
    await assert.rejects(failing, /connection lost/);
    await settle();
    assert.deepEqual(started[1]?.keys, ["b"]);
    started[1]?.planned();
    started[1]?.commit();
    await next;
  });

  describe("tracing", () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

    before(() => {
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      trace.setGlobalTracerProvider(provider);
    });

    after(async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
    });

    it("runs a batch as a root span linked both ways to its callers' spans, marked failed when it failed", async () => {
      const { writer, started } = startWriter(1);
      const tracer = trace.getTracer("writer-test");
      const callers = [tracer.startSpan("caller a"), tracer.startSpan("caller b")];
      const results = callers.map((caller, index) =>
        context.with(trace.setSpan(context.active(), caller), () => writer.submit(jobOf(["a", "b"][index] as string))),
      );
      await settle();
      assert.deepEqual(started[0]?.keys, ["a", "b"]);
      // The batch fails; its jobs are then committed one by one, inside the same batch span.
      started[0]?.planned();
      started[0]?.fail(new Error("serialization failure"));
      await settle();
      assert.deepEqual(started[1]?.keys, ["a"]);
      started[1]?.planned();
      started[1]?.commit();
      await settle();
      assert.deepEqual(started[2]?.keys, ["b"]);
      started[2]?.planned();
      started[2]?.commit();
      await Promise.all(results);
      await settle();
      for (const caller of callers) caller.end();

      const finished = exporter.getFinishedSpans();
      const batches = finished.filter((span) => span.name === "ledger.commit_batch");
      assert.equal(batches.length, 1, "one span for the batch and its one-by-one retries");
      const batch = batches[0] as (typeof finished)[number];
      assert.equal(batch.parentSpanContext, undefined, "a root span");
      assert.equal(batch.status.code, SpanStatusCode.ERROR);
      assert.deepEqual(batch.attributes, { "ledger.batch.jobs": 2, "ledger.batch.operations": 2 });
      const batchContext = batch.spanContext();
      for (const caller of callers) {
        const callerContext = caller.spanContext();
        assert.notEqual(batchContext.traceId, callerContext.traceId, "the batch is not in a caller's trace");
        assert.ok(
          batch.links.some((link) => link.context.spanId === callerContext.spanId),
          "the batch links to the caller",
        );
        const exported = finished.find((span) => span.spanContext().spanId === callerContext.spanId);
        assert.ok(
          exported?.links.some((link) => link.context.spanId === batchContext.spanId),
          "the caller links to the batch",
        );
      }
    });
  });
});
