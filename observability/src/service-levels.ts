// Latency objectives per service: the 95th percentile of unary RPC duration,
// over five minutes, must stay under these. Streaming RPCs (Watch*) are left
// out because their duration is the life of a subscription, not a wait.
import type { ServiceName } from "./metrics-catalog.ts";

export interface LatencyObjective {
  readonly p95Seconds: number;
  /** Why this number: what the slowest ordinary RPC of the service does. */
  readonly why: string;
}

export const latencyObjectives: Readonly<Record<ServiceName, LatencyObjective>> = {
  auth: { p95Seconds: 0.5, why: "Login and sign-up hash with argon2id, which is slow on purpose." },
  payments: { p95Seconds: 0.5, why: "A payment waits for its ledger transaction." },
  ledger: { p95Seconds: 0.1, why: "Postings are small batched transactions on one database." },
  credential: { p95Seconds: 0.25, why: "Issuing signs a credential and updates a status list." },
  "health-processing": { p95Seconds: 1, why: "Uploads carry up to 10 MB; processing itself runs as a job, not in the RPC." },
  face: { p95Seconds: 2, why: "Detection and embedding run a model on the CPU." },
};

/** Error ratio (server errors over all RPCs) above which a service alerts. */
export const errorRatioObjective = 0.01;

/** Streaming RPCs, whose duration is a subscription's life and not a latency. */
export const streamingMethodPattern = "Watch.*";
