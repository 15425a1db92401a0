// Variables ledger reads besides the runtime's base ones (services/ledger/README.md, "Configuration").
import { z } from "zod";

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const ledgerConfigShape = {
  /** Most operations committed in one database transaction. */
  LEDGER_BATCH_SIZE_MAX: integer(1, 5000).default(1000),
  /** Extra wait to gather a batch that is not full; 0 commits as soon as the writer is free. */
  LEDGER_BATCH_LINGER_MS: integer(0, 50).default(0),
  /** Batches on their way to the database at once (the next one waits at the chain head's lock). */
  LEDGER_BATCHES_IN_FLIGHT: integer(1, 8).default(2),
  /** Fewest operations waiting for a batch to go in flight beside another; 1 pipelines any. */
  LEDGER_PIPELINE_OPERATIONS_MIN: integer(1, 1_000_000).default(64),
  /** Most operations waiting for the writer before callers get RESOURCE_EXHAUSTED. */
  LEDGER_WRITE_QUEUE_MAX: integer(1, 1_000_000).default(20_000),
  /** How long a batch waits for a row lock before it is retried. */
  LEDGER_LOCK_TIMEOUT_MS: integer(10, 60_000).default(5000),
  /** How often the sweeper looks for pending transactions past their timeout. */
  LEDGER_PENDING_SWEEP_INTERVAL_MS: integer(50, 3_600_000).default(1000),
  /** Most pending transactions expired per sweep round (a sweep runs up to 10 rounds). */
  LEDGER_PENDING_SWEEP_BATCH_MAX: integer(1, 5000).default(500),
  /** How often reconciliation runs on its own; 0 turns the schedule off. */
  LEDGER_RECONCILE_INTERVAL_MS: integer(0, 86_400_000)
    .refine((value) => value === 0 || value >= 1000, "must be 0 (off) or at least 1000")
    .default(900_000),
  /** Delay of the first scheduled reconciliation after start. */
  LEDGER_RECONCILE_INITIAL_DELAY_MS: integer(0, 86_400_000).default(30_000),
  /** An open pending transaction this long past its timeout is a reconciliation finding. */
  LEDGER_PENDING_OVERDUE_GRACE_MS: integer(1000, 86_400_000).default(60_000),
  /** Most transactions one VerifyChain call (and one reconciliation's chain walk) checks. */
  LEDGER_CHAIN_VERIFY_MAX: integer(1, 100_000_000).default(1_000_000),
  /** Accounts kept in memory by the writer (accounts never change). */
  LEDGER_ACCOUNT_CACHE_MAX: integer(1, 10_000_000).default(100_000),
};
