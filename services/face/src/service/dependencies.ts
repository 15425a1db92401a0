// What the FaceService handlers need, passed in by routes.ts (or by a test).
import type { HandlerContext } from "@connectrpc/connect";
import { principalOf, type Sealer } from "@trustmesh/runtime";
import type { FaceMetrics } from "../face-metrics.ts";
import type { InferencePool } from "../inference/inference-pool.ts";
import type { FacePolicy } from "../judgement.ts";
import type { FaceStore } from "../store.ts";

export interface FaceServiceSettings {
  /** Similarity (0 to 100) at which a face matches its reference. */
  matchThreshold: number;
  enrolPolicy: FacePolicy;
  validatePolicy: FacePolicy;
  /** The RPC deadline assumed when a call carries none (the runtime normally sets one). */
  defaultTimeoutMs: number;
}

export interface FaceServiceDependencies {
  store: FaceStore;
  inference: Pick<InferencePool, "analyse" | "modelVersion">;
  sealer: Sealer;
  metrics: FaceMetrics;
  settings: FaceServiceSettings;
  /** The service's clock; tests pass their own. */
  now?: () => Date;
}

/** Validation records are purged this long after they are made (the contract's 30 days). */
export const validationRetentionMs = 30 * 24 * 60 * 60_000;

/** Who is calling, as the records and idempotency scopes need it. */
export function callerOf(context: HandlerContext): { serviceName: string } {
  const principal = principalOf(context);
  return { serviceName: principal?.kind === "service" ? principal.serviceName : "" };
}

/** Epoch milliseconds when the call's deadline passes. */
export function deadlineAtMsOf(context: HandlerContext, defaultTimeoutMs: number): number {
  return Date.now() + (context.timeoutMs() ?? defaultTimeoutMs);
}
