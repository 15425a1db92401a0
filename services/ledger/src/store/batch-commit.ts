// One batch, one database transaction, two round trips whatever its size.
// Transfers are planned outside the lock window first (planned-commit.ts).
// Planned under the lock, as here: BEGIN with ledger_lock_batch(...) — the
// chain head locked, then the balance rows in ascending account id, then keys
// and resolutions read; the plan is made here in the service;
// ledger_write_batch(...) — everything written — with COMMIT. The fixed lock
// order means concurrent batches (other replicas, the expiry sweeper) wait for
// each other but never deadlock; reading keys after the head lock means a key
// takes effect exactly once even across replicas. The functions are in the
// migrations (README: "Batching").
//
// The pool's connections are in pg's pipeline mode: BEGIN and the lock call
// leave together, as do the write and COMMIT, so a batch waits for the
// database twice instead of four times. Each statement still gets its own
// answer, in order: a failed BEGIN or lock is seen before anything is planned,
// and a failed write aborts the transaction, so the COMMIT queued behind it
// only rolls back (PostgreSQL answers a COMMIT of a failed transaction with
// ROLLBACK), which is checked too.
import type pg from "pg";
import { type BatchPlan, type Job, namedAccountIds, planBatch } from "../domain/engine.ts";
import type { AccountRecord, TransactionKindName, TransactionRecord } from "../domain/records.ts";
import { onBatchConnection } from "./batch-connection.ts";
import { type BatchStateJson, toBatchState } from "./batch-state.ts";
import { type ChainTip, plannedState } from "./chain-tip.ts";
import { hex, sentTogether } from "./database.ts";
import { commitPlannedBatch, type PlanningState } from "./planned-commit.ts";
import { type EntryRow, entriesByTransaction, type TransactionRow, toTransaction } from "./rows.ts";
import { writePlan } from "./write-plan.ts";

export interface BatchCommitDependencies {
  /** A pool whose clients run in pg's pipeline mode (`pipeline: true`), used only for batches. */
  pool: pg.Pool;
  /** Accounts already known (accounts never change); the database is asked only for the others. */
  knownAccounts(ids: readonly string[]): Map<string, AccountRecord>;
  /** Told about accounts read from the database, to know them next time. */
  rememberAccounts(accounts: readonly AccountRecord[]): void;
  now(): Date;
  newId(): string;
  /** The batches this writer planned and has not yet seen committed. */
  tip: ChainTip;
  /** Told when a batch planned outside the lock was refused, with the state it was planned on; it is planned again. */
  replanned(from: PlanningState): void;
  /** Told when a batch reached the head's lock before the batch it was planned on, and is sent again once that one committed. */
  resent(): void;
}

export interface CommittedBatch {
  plan: BatchPlan;
  /** Every transaction a resolve operation named, as read in the batch (for responses). */
  pendings: Map<string, TransactionRecord>;
}

/** ledger_lock_batch's answer: ledger_read_batch's, and the pending transactions the batch resolves. */
interface LockedState extends BatchStateJson {
  resolutions: { pending_transaction_id: string; kind: TransactionKindName }[];
  pendings: (Omit<TransactionRow, "request_hash" | "previous_hash" | "hash" | "timeout_at" | "created_at"> & {
    request_hash: string;
    previous_hash: string;
    hash: string;
    timeout_at: string | null;
    created_at: string;
  })[];
  pending_entries: (Omit<EntryRow, "created_at"> & { created_at: string })[];
}

/**
 * Commits a batch. Transfers are first planned outside the lock window
 * (planned-commit.ts): on the balances the writer already knows, else on a
 * read; when the state they were planned on has moved, and for batches that
 * resolve pending transactions, the batch is planned under the lock.
 */
export async function commitBatch(
  jobs: readonly Job[],
  dependencies: BatchCommitDependencies,
  onPlanned: () => void,
): Promise<CommittedBatch> {
  if (jobs.every((job) => job.operations.every((operation) => operation.type === "transfer"))) {
    for (const from of ["known", "read"] as const) {
      const attempt = await commitPlannedBatch(jobs, dependencies, onPlanned, from);
      if (attempt === "refused") dependencies.replanned(from);
      else if (attempt !== "unplanned") return attempt;
    }
  }
  return commitLockedBatch(jobs, dependencies, onPlanned);
}

async function commitLockedBatch(
  jobs: readonly Job[],
  dependencies: BatchCommitDependencies,
  onPlanned: () => void,
): Promise<CommittedBatch> {
  const operations = jobs.flatMap((job) => job.operations);
  const pendingIds = [
    ...new Set(operations.flatMap((operation) => (operation.type === "resolve" ? [operation.pendingTransactionId] : []))),
  ];
  const named = namedAccountIds(operations);
  const accounts = dependencies.knownAccounts([...named]);
  return onBatchConnection(dependencies.pool, dependencies.tip, onPlanned, async (client, recordPlan) => {
    const [began, locked] = await Promise.allSettled(
      sentTogether(client, () => [
        client.query("BEGIN"),
        client.query<{ state: LockedState }>({
          // Named, so each connection parses and plans the call once.
          name: "ledger_lock_batch",
          text: "SELECT ledger_lock_batch($1, $2, $3, $4, $5) AS state",
          values: [
            [...named],
            pendingIds,
            operations.map((operation) => operation.scope),
            operations.map((operation) => operation.idempotencyKey),
            [...accounts.keys()],
          ],
        }),
      ]),
    );
    if (began.status === "rejected") throw began.reason;
    if (locked.status === "rejected") throw locked.reason;
    const {
      answer: state,
      head,
      balances,
      existingKeys,
    } = toBatchState(locked.value.rows[0]?.state, accounts, dependencies.rememberAccounts);
    const grouped = entriesByTransaction(state.pending_entries.map((row) => ({ ...row, created_at: new Date(row.created_at) })));
    const pendings = new Map(
      state.pendings.map((row) => [
        row.id,
        toTransaction(
          {
            ...row,
            request_hash: hex(row.request_hash),
            previous_hash: hex(row.previous_hash),
            hash: hex(row.hash),
            timeout_at: row.timeout_at === null ? null : new Date(row.timeout_at),
            created_at: new Date(row.created_at),
          },
          grouped.get(row.id) ?? [],
        ),
      ]),
    );
    const plan = planBatch(jobs, {
      accounts,
      balances,
      existingKeys,
      pendings,
      resolutions: new Map(state.resolutions.map((row) => [row.pending_transaction_id, row.kind])),
      head,
      now: dependencies.now(),
      newId: dependencies.newId,
    });
    recordPlan(plannedState(head, plan), balances);
    const [written, committed] = await Promise.allSettled(
      sentTogether(client, () => [plan.transactions.length > 0 ? writePlan(client, plan) : Promise.resolve(), client.query("COMMIT")]),
    );
    if (written.status === "rejected") throw written.reason;
    if (committed.status === "rejected") throw committed.reason;
    if (committed.value.command !== "COMMIT") throw new Error(`ledger: the batch's COMMIT answered ${committed.value.command}`);
    return { plan, pendings };
  });
}
