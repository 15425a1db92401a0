// A bounded pool of inference worker threads (Piscina). Models are loaded and
// warmed in every worker before the pool is handed out, so the service reports
// SERVING only once the first request can be answered at full speed. Images wait
// in a bounded queue; when it is full, callers get RESOURCE_EXHAUSTED at once
// instead of piling up behind minutes of work.
import { Code, ConnectError } from "@connectrpc/connect";
import { type Logger, resourceExhausted } from "@trustmesh/runtime";
import { Piscina } from "piscina";
import type { FaceMetrics, InferenceOperation } from "../face-metrics.ts";
import type { FaceModelOptions, InferenceResult, InferenceTask, WorkerWarmMessage } from "./types.ts";

export interface InferencePoolOptions {
  workers: number;
  queueMax: number;
  warmUpTimeoutMs: number;
  model: FaceModelOptions;
  metrics: FaceMetrics;
  logger: Logger;
}

export interface InferenceRequest {
  operation: InferenceOperation;
  image: Uint8Array;
  referenceEmbedding?: Float32Array;
  returnEmbedding: boolean;
  /** Epoch milliseconds when the RPC's deadline passes. */
  deadlineAtMs: number;
  /** The RPC's signal: the caller stops waiting when it aborts. */
  signal: AbortSignal;
}

export type AnalysedImage = Extract<InferenceResult, { kind: "analysed" | "undecodable" }>;

export interface InferencePool {
  /** Name and version of the models every worker runs. */
  readonly modelVersion: string;
  analyse(request: InferenceRequest): Promise<AnalysedImage>;
  /** Waits for running analyses, then ends the workers. */
  close(): Promise<void>;
}

/** A worker's heap is bounded; the models' weights live in WebAssembly memory outside it. */
const workerHeapMaxMb = 512;

function isWarmMessage(message: unknown): message is WorkerWarmMessage {
  return typeof message === "object" && message !== null && (message as { kind?: unknown }).kind === "face-worker-warm";
}

function waitForWarmWorkers(piscina: Piscina, options: InferencePoolOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    let warm = 0;
    const timer = setTimeout(
      () => finish(new Error(`inference workers were not warm within ${options.warmUpTimeoutMs} ms (${warm} of ${options.workers})`)),
      options.warmUpTimeoutMs,
    );
    const onMessage = (message: unknown) => {
      if (!isWarmMessage(message)) return;
      warm++;
      options.logger.info({ modelVersion: message.modelVersion, warmUpMs: Math.round(message.warmUpMs) }, "inference worker warm");
      if (warm === options.workers) finish(undefined, message.modelVersion);
    };
    const onError = (error: Error) => finish(new Error(`an inference worker failed to start: ${error.message}`, { cause: error }));
    function finish(error: Error | undefined, modelVersion = "") {
      clearTimeout(timer);
      piscina.off("message", onMessage);
      piscina.off("error", onError);
      if (error) reject(error);
      else resolve(modelVersion);
    }
    piscina.on("message", onMessage);
    piscina.on("error", onError);
  });
}

/** Rejects when the signal aborts, so a caller whose RPC ended stops waiting. */
function abandonedWhen(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(ConnectError.from(signal.reason ?? new ConnectError("the call was cancelled", Code.Canceled)));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  // The abandoned promise may reject after nobody races it any more.
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

export async function createInferencePool(options: InferencePoolOptions): Promise<InferencePool> {
  const piscina = new Piscina<InferenceTask, InferenceResult>({
    filename: new URL("./worker.ts", import.meta.url).href,
    minThreads: options.workers,
    maxThreads: options.workers,
    // Loading the models takes seconds: workers are kept for the life of the process.
    idleTimeout: Number.POSITIVE_INFINITY,
    concurrentTasksPerWorker: 1,
    maxQueue: options.queueMax,
    atomics: "async",
    workerData: options.model,
    // Not the parent's --import of the telemetry SDK: workers export no spans.
    execArgv: [],
    resourceLimits: { maxOldGenerationSizeMb: workerHeapMaxMb },
  });
  let modelVersion: string;
  try {
    modelVersion = await waitForWarmWorkers(piscina, options);
  } catch (error) {
    await piscina.destroy();
    throw error;
  }
  // Errors after start (a worker that ran out of memory, say) fail the tasks
  // it held; Piscina starts a replacement, which loads and warms the models again.
  piscina.on("error", (error: Error) => options.logger.error({ err: error }, "inference worker failed"));
  options.metrics.observePool(() => ({ queueDepth: piscina.queueSize, workers: piscina.threads.length }));

  return {
    modelVersion,
    async analyse(request) {
      // Piscina queues a task only while every worker is busy. Checked here,
      // synchronously before run(), so the bound is exact.
      if (piscina.queueSize >= options.queueMax) {
        options.metrics.inferenceRejected.inc();
        throw resourceExhausted(
          `face inference queue is full (${piscina.queueSize} images waiting); retry shortly`,
          "INFERENCE_QUEUE_FULL",
          1000,
        );
      }
      const queuedAt = performance.now();
      const task: InferenceTask = {
        image: request.image,
        referenceEmbedding: request.referenceEmbedding,
        returnEmbedding: request.returnEmbedding,
        deadlineAtMs: request.deadlineAtMs,
      };
      const abandoned = abandonedWhen(request.signal);
      let result: InferenceResult;
      try {
        result = await Promise.race([piscina.run(task), abandoned.promise]);
      } catch (error) {
        if (error instanceof Error && /task queue/i.test(error.message)) {
          options.metrics.inferenceRejected.inc();
          throw resourceExhausted("face inference queue is full; retry shortly", "INFERENCE_QUEUE_FULL", 1000);
        }
        throw error;
      } finally {
        abandoned.dispose();
      }
      if (result.kind === "expired")
        throw new ConnectError("the deadline passed while the image waited for a worker", Code.DeadlineExceeded);
      if (result.kind === "analysed") {
        const totalSeconds = (performance.now() - queuedAt) / 1000;
        options.metrics.inferenceDuration.observe({ operation: request.operation }, result.inferenceMs / 1000);
        options.metrics.inferenceWait.observe({ operation: request.operation }, Math.max(0, totalSeconds - result.inferenceMs / 1000));
      }
      return result;
    },
    async close() {
      await piscina.close();
    },
  };
}
