// payments' business metrics, on the process registry the admin port serves.
// Every label combination of payments_total is created at zero at start, so
// dashboards and rates have series from the first scrape.
import type { RpcMetrics } from "@trustmesh/runtime";
import { Counter, Gauge, Histogram } from "prom-client";
import { currencies } from "./domain/money.ts";
import { paymentStates } from "./domain/state-machine.ts";

export const kindLabels = ["transfer", "deposit", "withdrawal", "refund"] as const;
export const priorityLabels = ["standard", "express", "instant"] as const;

export interface PaymentsMetrics {
  /** Payments reaching a state, by currency (the catalog's payments_total). */
  readonly payments: Counter<"state" | "currency">;
  /** Payments accepted, by kind, currency and priority. */
  readonly accepted: Counter<"kind" | "currency" | "priority">;
  /** Amounts of completed payments in major units (a float, for dashboards only). */
  readonly amount: Counter<"kind" | "currency">;
  /** Time from acceptance to a settled state. */
  readonly processingDuration: Histogram<"kind" | "outcome">;
  /** Processing attempts that failed and were scheduled again. */
  readonly retries: Counter<"kind">;
  /** Sends refused because a limit would be exceeded. */
  readonly limitRejections: Counter<"window" | "currency">;
}

export function createPaymentsMetrics(metrics: RpcMetrics, queueDepth: () => Promise<number>): PaymentsMetrics {
  const registers = [metrics.registry];
  const payments = new Counter({
    name: "payments_total",
    help: "Payments reaching a state, by currency.",
    labelNames: ["state", "currency"] as const,
    registers,
  });
  const accepted = new Counter({
    name: "payments_accepted_total",
    help: "Payments accepted, by kind, currency and priority.",
    labelNames: ["kind", "currency", "priority"] as const,
    registers,
  });
  const amount = new Counter({
    name: "payments_amount_total",
    help: "Amounts of completed payments, in major units of their currency.",
    labelNames: ["kind", "currency"] as const,
    registers,
  });
  const processingDuration = new Histogram({
    name: "payments_processing_duration_seconds",
    help: "Time from a payment's acceptance until it completed, failed or expired.",
    labelNames: ["kind", "outcome"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers,
  });
  const retries = new Counter({
    name: "payments_retries_total",
    help: "Processing attempts that failed and were scheduled again.",
    labelNames: ["kind"] as const,
    registers,
  });
  const limitRejections = new Counter({
    name: "payments_limit_rejections_total",
    help: "Payments refused because a limit would be exceeded, by window.",
    labelNames: ["window", "currency"] as const,
    registers,
  });
  new Gauge({
    name: "payments_queue_depth",
    help: "Payment jobs due to run now.",
    registers,
    async collect() {
      this.set(await queueDepth().catch(() => 0));
    },
  });
  for (const currency of currencies) {
    for (const state of paymentStates) payments.inc({ state, currency }, 0);
    for (const kind of kindLabels) {
      amount.inc({ kind, currency }, 0);
      for (const priority of priorityLabels) accepted.inc({ kind, currency, priority }, 0);
    }
    for (const window of ["per_transaction", "daily", "monthly"]) limitRejections.inc({ window, currency }, 0);
  }
  for (const kind of kindLabels) retries.inc({ kind }, 0);
  return { payments, accepted, amount, processingDuration, retries, limitRejections };
}
