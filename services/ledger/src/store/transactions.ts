// Reading committed transactions with their entries and, for pending ones, how
// they were resolved. Used for replays, responses and the batch's inputs.
import type { TransactionKindName, TransactionRecord, TransactionView } from "../domain/records.ts";
import type { Queryable } from "./database.ts";
import { type EntryRow, entriesByTransaction, entryColumns, type TransactionRow, toTransaction, transactionColumns } from "./rows.ts";

/** Transactions by id, with entries; unknown ids are absent from the map. */
export async function loadTransactions(database: Queryable, ids: readonly string[]): Promise<Map<string, TransactionRecord>> {
  const found = new Map<string, TransactionRecord>();
  if (ids.length === 0) return found;
  const unique = [...new Set(ids)];
  const [transactions, entries] = await Promise.all([
    database.query<TransactionRow>(`SELECT ${transactionColumns} FROM ledger_transaction t WHERE t.id = ANY($1::uuid[])`, [unique]),
    database.query<EntryRow>(
      `SELECT ${entryColumns} FROM ledger_entry e WHERE e.transaction_id = ANY($1::uuid[])
       ORDER BY e.transaction_id, e.posting_index, e.direction`,
      [unique],
    ),
  ]);
  const grouped = entriesByTransaction(entries.rows);
  for (const row of transactions.rows) found.set(row.id, toTransaction(row, grouped.get(row.id) ?? []));
  return found;
}

/** Pending transaction id → kind of the transaction that resolved it, for those resolved. */
export async function loadResolutions(database: Queryable, pendingIds: readonly string[]): Promise<Map<string, TransactionKindName>> {
  const resolutions = new Map<string, TransactionKindName>();
  if (pendingIds.length === 0) return resolutions;
  const result = await database.query<{ pending_transaction_id: string; kind: TransactionKindName }>(
    "SELECT pending_transaction_id, kind FROM ledger_transaction WHERE pending_transaction_id = ANY($1::uuid[])",
    [[...new Set(pendingIds)]],
  );
  for (const row of result.rows) resolutions.set(row.pending_transaction_id, row.kind);
  return resolutions;
}

/** Transactions as returned to callers: with their pending status resolved. */
export async function loadTransactionViews(database: Queryable, ids: readonly string[]): Promise<Map<string, TransactionView>> {
  const transactions = await loadTransactions(database, ids);
  const pendingIds = [...transactions.values()]
    .filter((transaction) => transaction.kind === "PENDING")
    .map((transaction) => transaction.id);
  const resolutions = await loadResolutions(database, pendingIds);
  return new Map([...transactions].map(([id, transaction]) => [id, { ...transaction, resolvedBy: resolutions.get(id) ?? null }]));
}
