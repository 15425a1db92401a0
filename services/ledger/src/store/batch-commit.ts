// One batch, one database transaction, two round trips whatever its size:
// BEGIN with ledger_lock_batch(...) — balance rows locked in ascending account
// id, then the chain head, then keys and resolutions read; the plan is made
// here in the service; ledger_write_batch(...) — everything written — with
// COMMIT. The fixed lock order means concurrent batches (other replicas, the
// expiry sweeper) wait for each other but never deadlock; reading keys after
// the head lock means a key takes effect exactly once even across replicas.
// Both functions are in the migrations (README: "Batching").
//
// The pool's connections are in pg's pipeline mode: BEGIN and the lock call
// leave together, as do the write and COMMIT, so a batch waits for the
// database twice instead of four times. Each statement still gets its own
// answer, in order: a failed BEGIN or lock is seen before anything is planned,
// and a failed write aborts the transaction, so the COMMIT queued behind it
// only rolls back (PostgreSQL answers a COMMIT of a failed transaction with
// ROLLBACK), which is checked too.
import type pg from "pg";
import { type BatchPlan, type ChainPosition, idempotencyKeyId, type Job, planBatch } from "../domain/engine.ts";
import type { AccountRecord, TransactionKindName, TransactionRecord } from "../domain/records.ts";
import {
  type AccountRow,
  type BalanceRow,
  type EntryRow,
  entriesByTransaction,
  type TransactionRow,
  toAccount,
  toBalance,
  toTransaction,
} from "./rows.ts";

export interface BatchCommitDependencies {
  /** A pool whose clients run in pg's pipeline mode (`pipeline: true`), used only for batches. */
  pool: pg.Pool;
  /** Accounts already known (accounts never change); the database is asked only for the others. */
  knownAccounts(ids: readonly string[]): Map<string, AccountRecord>;
  /** Told about accounts read from the database, to know them next time. */
  rememberAccounts(accounts: readonly AccountRecord[]): void;
  now(): Date;
  newId(): string;
  /** How long a batch waits for a row lock before giving up (and being retried). */
  lockTimeoutMs: number;
}

export interface CommittedBatch {
  plan: BatchPlan;
  /** Every transaction a resolve operation named, as read in the batch (for responses). */
  pendings: Map<string, TransactionRecord>;
}

/** ledger_lock_batch's answer: rows as JSON, with bytes in hex and timestamps as strings. */
interface LockedState {
  balances: BalanceRow[];
  head: { sequence: string; hash: string; created_at: string } | null;
  keys: { id: string; idempotency_scope: string; idempotency_key: string; request_hash: string }[];
  resolutions: { pending_transaction_id: string; kind: TransactionKindName }[];
  pendings: (Omit<TransactionRow, "request_hash" | "previous_hash" | "hash" | "timeout_at" | "created_at"> & {
    request_hash: string;
    previous_hash: string;
    hash: string;
    timeout_at: string | null;
    created_at: string;
  })[];
  pending_entries: (Omit<EntryRow, "created_at"> & { created_at: string })[];
  accounts: (Omit<AccountRow, "created_at"> & { created_at: string })[];
}

const hex = (value: string) => Buffer.from(value, "hex");

export async function commitBatch(jobs: readonly Job[], dependencies: BatchCommitDependencies): Promise<CommittedBatch> {
  const operations = jobs.flatMap((job) => job.operations);
  const pendingIds = [
    ...new Set(operations.flatMap((operation) => (operation.type === "resolve" ? [operation.pendingTransactionId] : []))),
  ];
  const named = new Set<string>();
  for (const operation of operations) {
    if (operation.type === "transfer")
      for (const posting of operation.postings) named.add(posting.debitAccountId).add(posting.creditAccountId);
  }
  const accounts = dependencies.knownAccounts([...named]);
  // SET LOCAL rides along with BEGIN in one message; it ends with the transaction.
  const begin = `BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.floor(dependencies.lockTimeoutMs))}`;
  const client = await dependencies.pool.connect();
  let broken: Error | undefined;
  try {
    const [began, locked] = await Promise.allSettled([
      client.query(begin),
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
    ]);
    if (began.status === "rejected") throw began.reason;
    if (locked.status === "rejected") throw locked.reason;
    const state = locked.value.rows[0]?.state;
    if (state?.head === null || state === undefined) throw new Error("ledger: the chain head row is missing");
    const fresh = state.accounts.map((row) => toAccount({ ...row, created_at: new Date(row.created_at) }));
    dependencies.rememberAccounts(fresh);
    for (const account of fresh) accounts.set(account.id, account);
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
    const head: ChainPosition = {
      sequence: BigInt(state.head.sequence),
      hash: hex(state.head.hash),
      createdAt: new Date(state.head.created_at),
    };
    const plan = planBatch(jobs, {
      accounts,
      balances: new Map(state.balances.map((row) => [row.account_id, toBalance(row)])),
      existingKeys: new Map(
        state.keys.map((row) => [
          idempotencyKeyId(row.idempotency_scope, row.idempotency_key),
          { transactionId: row.id, requestHash: hex(row.request_hash) },
        ]),
      ),
      pendings,
      resolutions: new Map(state.resolutions.map((row) => [row.pending_transaction_id, row.kind])),
      head,
      now: dependencies.now(),
      newId: dependencies.newId,
    });
    const [written, committed] = await Promise.allSettled([
      plan.transactions.length > 0 ? writePlan(client, plan) : Promise.resolve(),
      client.query("COMMIT"),
    ]);
    if (written.status === "rejected") throw written.reason;
    if (committed.status === "rejected") throw committed.reason;
    if (committed.value.command !== "COMMIT") throw new Error(`ledger: the batch's COMMIT answered ${committed.value.command}`);
    return { plan, pendings };
  } catch (error) {
    // Harmless when the transaction already ended; a connection that cannot even roll back is discarded.
    await client.query("ROLLBACK").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * A PostgreSQL array literal of values that never need quoting — UUIDs, decimal
 * integers, enum names, currency codes, ISO-8601 times — with null as NULL.
 * pg's generic encoder quotes and escapes every element, and a batch of 1000
 * transfers has about 40,000 of them, all encoded while the batch holds its
 * locks. Anything else is refused rather than sent unquoted.
 */
export function plainArrayLiteral(values: readonly (string | null)[]): string {
  for (const value of values) {
    if (value !== null && (!plainElement.test(value) || nullWord.test(value))) {
      throw new Error(`ledger: ${JSON.stringify(value)} cannot go unquoted in an array literal`);
    }
  }
  return `{${values.map((value) => value ?? "NULL").join(",")}}`;
}

// No quote, backslash, brace, comma or white space; and not the word NULL, which would read as null.
const plainElement = /^[0-9A-Za-z_.:+-]+$/;
const nullWord = /^null$/i;

const isoTime = (time: Date | null) => time?.toISOString() ?? null;

async function writePlan(client: pg.PoolClient, plan: BatchPlan): Promise<void> {
  const transactions = plan.transactions;
  const entries = transactions.flatMap((transaction) => transaction.entries);
  const balances = plan.changedBalances;
  const plain = plainArrayLiteral;
  const columns: unknown[] = [
    plain(transactions.map((transaction) => transaction.id)),
    plain(transactions.map((transaction) => transaction.sequence.toString())),
    plain(transactions.map((transaction) => transaction.kind)),
    transactions.map((transaction) => transaction.idempotencyScope),
    transactions.map((transaction) => transaction.idempotencyKey),
    transactions.map((transaction) => transaction.requestHash),
    transactions.map((transaction) => transaction.reference),
    transactions.map((transaction) => JSON.stringify(transaction.metadata)),
    plain(transactions.map((transaction) => transaction.pendingTransactionId)),
    plain(transactions.map((transaction) => isoTime(transaction.timeoutAt))),
    transactions.map((transaction) => transaction.voidReason),
    transactions.map((transaction) => transaction.createdBy),
    transactions.map((transaction) => transaction.previousHash),
    transactions.map((transaction) => transaction.hash),
    plain(transactions.map((transaction) => isoTime(transaction.createdAt))),
    plain(entries.map((entry) => entry.id)),
    plain(entries.map((entry) => entry.transactionId)),
    plain(entries.map((entry) => entry.sequence.toString())),
    plain(entries.map((entry) => entry.transactionKind)),
    plain(entries.map((entry) => entry.postingIndex.toString())),
    plain(entries.map((entry) => entry.accountId)),
    plain(entries.map((entry) => entry.counterpartyAccountId)),
    plain(entries.map((entry) => entry.direction)),
    plain(entries.map((entry) => entry.currency)),
    plain(entries.map((entry) => entry.amount.toString())),
    plain(entries.map((entry) => entry.postedBalanceAfter.toString())),
    plain(entries.map((entry) => entry.availableBalanceAfter.toString())),
    entries.map((entry) => entry.reference),
    plain(entries.map((entry) => isoTime(entry.createdAt))),
    plain(balances.map((balance) => balance.accountId)),
    plain(balances.map((balance) => balance.debitsPosted.toString())),
    plain(balances.map((balance) => balance.creditsPosted.toString())),
    plain(balances.map((balance) => balance.debitsPending.toString())),
    plain(balances.map((balance) => balance.creditsPending.toString())),
    plain(balances.map((balance) => balance.lastSequence.toString())),
    plain(plan.openedPendings.map((pending) => pending.transactionId)),
    plain(plan.openedPendings.map((pending) => pending.timeoutAt.toISOString())),
    plain(plan.closedPendings),
    plan.head.sequence.toString(),
    plan.head.hash,
    plan.head.createdAt,
  ];
  const placeholders = columns.map((_, index) => `$${index + 1}`).join(", ");
  // Named, so each connection parses and plans the call once.
  await client.query({ name: "ledger_write_batch", text: `SELECT ledger_write_batch(${placeholders})`, values: columns });
}
