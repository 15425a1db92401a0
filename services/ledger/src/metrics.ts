// The ledger's business metrics, on the process registry the admin port serves
// (README: "Metrics"). Chain length and open pending transactions are read
// from the database when Prometheus scrapes, so every replica reports the
// ledger's truth rather than what it alone wrote.
import type { RpcMetrics } from "@trustmesh/runtime";
import { Counter, Gauge, Histogram } from "prom-client";
import { supportedCurrencies } from "./domain/money.ts";
import { transactionKinds } from "./domain/records.ts";

export interface LedgerMetrics {
  postings: Counter<"currency" | "kind">;
  rejections: Counter<"reason">;
  batchOperations: Histogram;
  batchDuration: Histogram;
  /** Sets the reconciliation and chain gauges from a finished reconciliation. */
  recordReconciliation(report: { clean: boolean; chainIntact: boolean; finishedAt: Date }): void;
  expiredPendings: Counter;
  /** Batches planned outside the lock that were refused and planned again, by the state they were planned on. */
  replannedBatches: Counter<"from">;
  resentBatches: Counter;
}

export interface LedgerMetricsOptions {
  registry: RpcMetrics["registry"];
  /** The chain head's sequence; read on scrape. */
  readChainLength(): Promise<bigint>;
  /** Open pending transactions; read on scrape. */
  readOpenPendingCount(): Promise<number>;
  queueDepth(): number;
}

export function createLedgerMetrics(options: LedgerMetricsOptions): LedgerMetrics {
  const registers = [options.registry];
  new Gauge({
    name: "ledger_chain_length",
    help: "Committed transactions in the hash chain (the head's sequence).",
    registers,
    async collect() {
      this.set(Number(await options.readChainLength()));
    },
  });
  new Gauge({
    name: "ledger_pending_transactions",
    help: "Pending transactions not yet posted, voided or expired.",
    registers,
    async collect() {
      this.set(await options.readOpenPendingCount());
    },
  });
  new Gauge({
    name: "ledger_writer_queue_operations",
    help: "Operations waiting for the batch writer.",
    registers,
    collect() {
      this.set(options.queueDepth());
    },
  });
  const reconciliationOk = new Gauge({
    name: "ledger_reconciliation_ok",
    help: "1 when the last reconciliation found no discrepancy and an intact chain, 0 otherwise.",
    registers: [],
  });
  const chainOk = new Gauge({
    name: "ledger_chain_ok",
    help: "1 when the last reconciliation's walk of the hash chain found every link intact, 0 otherwise.",
    registers: [],
  });
  const reconciliationLastRun = new Gauge({
    name: "ledger_reconciliation_last_run_timestamp_seconds",
    help: "When the last reconciliation finished, in Unix seconds.",
    registers: [],
  });
  const ledgerMetrics: LedgerMetrics = {
    postings: new Counter({
      name: "ledger_postings_total",
      help: "Postings committed, by currency and transaction kind.",
      labelNames: ["currency", "kind"],
      registers,
    }),
    rejections: new Counter({
      name: "ledger_rejections_total",
      help: "Operations refused, by rejection reason.",
      labelNames: ["reason"],
      registers,
    }),
    batchOperations: new Histogram({
      name: "ledger_batch_size",
      help: "Operations per database transaction of the batch writer.",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
      registers,
    }),
    batchDuration: new Histogram({
      name: "ledger_batch_duration_seconds",
      help: "Time to commit one batch, from BEGIN to COMMIT, in seconds.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    recordReconciliation(report) {
      // Registered by the first reconciliation, not before: an unlabelled gauge always
      // exports a value, and a 0 from a process that has not checked yet would page
      // someone for a discrepancy nobody found.
      for (const gauge of [reconciliationOk, chainOk, reconciliationLastRun]) {
        if (!options.registry.getSingleMetric((gauge as unknown as { name: string }).name)) options.registry.registerMetric(gauge);
      }
      reconciliationOk.set(report.clean ? 1 : 0);
      chainOk.set(report.chainIntact ? 1 : 0);
      reconciliationLastRun.set(report.finishedAt.getTime() / 1000);
    },
    expiredPendings: new Counter({
      name: "ledger_pending_expired_total",
      help: "Pending transactions voided by the ledger because their timeout passed.",
      registers,
    }),
    replannedBatches: new Counter({
      name: "ledger_batches_replanned_total",
      help: "Batches of transfers planned outside the lock that were refused because the state they were planned on had moved, by that state: known (the writer's own batches; planned again on a read) or read (planned again under the lock).",
      labelNames: ["from"],
      registers,
    }),
    resentBatches: new Counter({
      name: "ledger_batches_resent_total",
      help: "Batches of transfers that reached the chain head's lock before the batch they were planned on (another connection) and were sent again, unchanged, once it had committed.",
      registers,
    }),
  };
  // Every currency and kind exists from the start, at 0, so rates are defined before the first posting.
  for (const currency of supportedCurrencies) for (const kind of transactionKinds) ledgerMetrics.postings.inc({ currency, kind }, 0);
  for (const from of ["known", "read"]) ledgerMetrics.replannedBatches.inc({ from }, 0);
  return ledgerMetrics;
}
