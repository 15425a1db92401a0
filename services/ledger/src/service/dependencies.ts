// What the LedgerService handlers need; routes.ts builds it from the process's
// pool and config, tests may build it from a throwaway database.
import type pg from "pg";
import type { ReconcileOptions, ReconciliationRecord } from "../audit/reconcile.ts";
import type { TransactionWriter } from "../writer.ts";

export interface LedgerServiceDependencies {
  pool: pg.Pool;
  writer: TransactionWriter;
  now(): Date;
  /** Bounds of VerifyChain per call. */
  chain: { pageSize: number; transactionsMax: number };
  reconcile: ReconcileOptions;
  /** Told about every finished reconciliation, on request or scheduled (the metric follows it). */
  onReconciled(report: ReconciliationRecord): void;
}
