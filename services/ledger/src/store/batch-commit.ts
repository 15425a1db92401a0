// One batch, one database transaction. The order of locks is fixed — balance
// rows in ascending account id, then the chain head — so concurrent batches
// (other replicas, the expiry sweeper) wait for each other but never deadlock.
// Idempotency keys and pending resolutions are read after the head is locked:
// any batch that committed before is visible then, and none can commit until
// this one does, so a key takes effect exactly once even across replicas.
import type pg from "pg";
import { type BatchPlan, type ChainPosition, idempotencyKeyId, type Job, planBatch } from "../domain/engine.ts";
import type { AccountRecord, TransactionRecord } from "../domain/records.ts";
import { inTransaction } from "./database.ts";
import { type BalanceRow, toBalance } from "./rows.ts";
import { loadResolutions, loadTransactions } from "./transactions.ts";

export interface BatchCommitDependencies {
  pool: pg.Pool;
  /** Accounts by id; unknown ids are absent. Accounts never change, so this may be a cache. */
  findAccounts(client: pg.PoolClient, ids: readonly string[]): Promise<Map<string, AccountRecord>>;
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

export async function commitBatch(jobs: readonly Job[], dependencies: BatchCommitDependencies): Promise<CommittedBatch> {
  const operations = jobs.flatMap((job) => job.operations);
  const pendingIds = operations.flatMap((operation) => (operation.type === "resolve" ? [operation.pendingTransactionId] : []));
  // SET LOCAL rides along with BEGIN in one round trip; it ends with the transaction.
  const begin = `BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.floor(dependencies.lockTimeoutMs))}`;
  return inTransaction(dependencies.pool, begin, async (client) => {
    // Pending transactions are immutable, so reading them before the locks is safe.
    const pendings = await loadTransactions(client, pendingIds);
    const accountIds = new Set<string>();
    for (const operation of operations) {
      if (operation.type === "transfer") {
        for (const posting of operation.postings) accountIds.add(posting.debitAccountId).add(posting.creditAccountId);
      } else {
        for (const entry of pendings.get(operation.pendingTransactionId)?.entries ?? []) accountIds.add(entry.accountId);
      }
    }
    const accounts = await dependencies.findAccounts(client, [...accountIds]);
    const locked = await client.query<BalanceRow>(
      `SELECT b.account_id, b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending, b.last_sequence
       FROM account_balance b WHERE b.account_id = ANY($1::uuid[]) ORDER BY b.account_id FOR UPDATE`,
      [[...accounts.keys()]],
    );
    const balances = new Map(locked.rows.map((row) => [row.account_id, toBalance(row)]));
    const headRow = await client.query<{ sequence: string; hash: Buffer; created_at: Date }>(
      "SELECT sequence, hash, created_at FROM chain_head WHERE id = 1 FOR UPDATE",
    );
    const headFound = headRow.rows[0];
    if (headFound === undefined) throw new Error("ledger: the chain head row is missing");
    const head: ChainPosition = { sequence: BigInt(headFound.sequence), hash: headFound.hash, createdAt: headFound.created_at };

    const scopes = operations.map((operation) => operation.scope);
    const keys = operations.map((operation) => operation.idempotencyKey);
    const existing = await client.query<{ id: string; idempotency_scope: string; idempotency_key: string; request_hash: Buffer }>(
      `SELECT t.id, t.idempotency_scope, t.idempotency_key, t.request_hash FROM ledger_transaction t
       JOIN unnest($1::text[], $2::text[]) AS k(scope, key) ON t.idempotency_scope = k.scope AND t.idempotency_key = k.key`,
      [scopes, keys],
    );
    const existingKeys = new Map(
      existing.rows.map((row) => [
        idempotencyKeyId(row.idempotency_scope, row.idempotency_key),
        { transactionId: row.id, requestHash: row.request_hash },
      ]),
    );
    const resolutions = await loadResolutions(client, pendingIds);

    const plan = planBatch(jobs, {
      accounts,
      balances,
      existingKeys,
      pendings,
      resolutions,
      head,
      now: dependencies.now(),
      newId: dependencies.newId,
    });
    if (plan.transactions.length > 0) await writePlan(client, plan);
    return { plan, pendings };
  });
}

async function writePlan(client: pg.PoolClient, plan: BatchPlan): Promise<void> {
  const transactions = plan.transactions;
  await client.query(
    `INSERT INTO ledger_transaction (id, sequence, kind, idempotency_scope, idempotency_key, request_hash, reference, metadata,
       pending_transaction_id, timeout_at, void_reason, created_by, previous_hash, hash, created_at)
     SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::transaction_kind[], $4::text[], $5::text[], $6::bytea[], $7::text[],
       $8::jsonb[], $9::uuid[], $10::timestamptz[], $11::text[], $12::text[], $13::bytea[], $14::bytea[], $15::timestamptz[])`,
    [
      transactions.map((transaction) => transaction.id),
      transactions.map((transaction) => transaction.sequence.toString()),
      transactions.map((transaction) => transaction.kind),
      transactions.map((transaction) => transaction.idempotencyScope),
      transactions.map((transaction) => transaction.idempotencyKey),
      transactions.map((transaction) => transaction.requestHash),
      transactions.map((transaction) => transaction.reference),
      transactions.map((transaction) => JSON.stringify(transaction.metadata)),
      transactions.map((transaction) => transaction.pendingTransactionId),
      transactions.map((transaction) => transaction.timeoutAt),
      transactions.map((transaction) => transaction.voidReason),
      transactions.map((transaction) => transaction.createdBy),
      transactions.map((transaction) => transaction.previousHash),
      transactions.map((transaction) => transaction.hash),
      transactions.map((transaction) => transaction.createdAt),
    ],
  );
  const entries = transactions.flatMap((transaction) => transaction.entries);
  if (entries.length > 0) {
    await client.query(
      `INSERT INTO ledger_entry (id, transaction_id, sequence, transaction_kind, posting_index, account_id, counterparty_account_id,
         direction, currency, amount, posted_balance_after, available_balance_after, reference, created_at)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::transaction_kind[], $5::integer[], $6::uuid[], $7::uuid[],
         $8::entry_direction[], $9::text[], $10::numeric[], $11::numeric[], $12::numeric[], $13::text[], $14::timestamptz[])`,
      [
        entries.map((entry) => entry.id),
        entries.map((entry) => entry.transactionId),
        entries.map((entry) => entry.sequence.toString()),
        entries.map((entry) => entry.transactionKind),
        entries.map((entry) => entry.postingIndex),
        entries.map((entry) => entry.accountId),
        entries.map((entry) => entry.counterpartyAccountId),
        entries.map((entry) => entry.direction),
        entries.map((entry) => entry.currency),
        entries.map((entry) => entry.amount.toString()),
        entries.map((entry) => entry.postedBalanceAfter.toString()),
        entries.map((entry) => entry.availableBalanceAfter.toString()),
        entries.map((entry) => entry.reference),
        entries.map((entry) => entry.createdAt),
      ],
    );
  }
  const balances = plan.changedBalances;
  const updated = await client.query(
    `UPDATE account_balance b SET debits_posted = v.debits_posted, credits_posted = v.credits_posted,
       debits_pending = v.debits_pending, credits_pending = v.credits_pending, last_sequence = v.last_sequence, updated_at = $7
     FROM unnest($1::uuid[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[], $6::bigint[])
       AS v(account_id, debits_posted, credits_posted, debits_pending, credits_pending, last_sequence)
     WHERE b.account_id = v.account_id`,
    [
      balances.map((balance) => balance.accountId),
      balances.map((balance) => balance.debitsPosted.toString()),
      balances.map((balance) => balance.creditsPosted.toString()),
      balances.map((balance) => balance.debitsPending.toString()),
      balances.map((balance) => balance.creditsPending.toString()),
      balances.map((balance) => balance.lastSequence.toString()),
      plan.head.createdAt,
    ],
  );
  if (updated.rowCount !== balances.length) throw new Error(`ledger: updated ${updated.rowCount} of ${balances.length} balances`);
  if (plan.openedPendings.length > 0) {
    await client.query("INSERT INTO open_pending (transaction_id, timeout_at) SELECT * FROM unnest($1::uuid[], $2::timestamptz[])", [
      plan.openedPendings.map((pending) => pending.transactionId),
      plan.openedPendings.map((pending) => pending.timeoutAt),
    ]);
  }
  if (plan.closedPendings.length > 0) {
    const closed = await client.query("DELETE FROM open_pending WHERE transaction_id = ANY($1::uuid[])", [plan.closedPendings]);
    if (closed.rowCount !== plan.closedPendings.length) {
      throw new Error(`ledger: closed ${closed.rowCount} of ${plan.closedPendings.length} open pending transactions`);
    }
  }
  await client.query("UPDATE chain_head SET sequence = $1, hash = $2, created_at = $3 WHERE id = 1", [
    plan.head.sequence.toString(),
    plan.head.hash,
    plan.head.createdAt,
  ]);
}
