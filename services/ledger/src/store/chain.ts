// Reads of the hash chain for VerifyChain and Reconcile.
import type { TransactionRecord } from "../domain/records.ts";
import type { Queryable } from "./database.ts";
import { type EntryRow, entriesByTransaction, entryColumns, type TransactionRow, toTransaction, transactionColumns } from "./rows.ts";

export interface StoredHead {
  sequence: bigint;
  hash: Buffer;
}

export async function readHead(database: Queryable): Promise<StoredHead> {
  const result = await database.query<{ sequence: string; hash: Buffer }>("SELECT sequence, hash FROM chain_head WHERE id = 1");
  const row = result.rows[0];
  if (row === undefined) throw new Error("ledger: the chain head row is missing");
  return { sequence: BigInt(row.sequence), hash: row.hash };
}

export async function readStoredHash(database: Queryable, sequence: bigint): Promise<Buffer | undefined> {
  const result = await database.query<{ hash: Buffer }>("SELECT hash FROM ledger_transaction WHERE sequence = $1", [sequence.toString()]);
  return result.rows[0]?.hash;
}

/** Up to `limit` transactions with sequences in [from, to], in order, with their entries. */
export async function readChainPage(database: Queryable, from: bigint, to: bigint, limit: number): Promise<TransactionRecord[]> {
  const transactions = await database.query<TransactionRow>(
    `SELECT ${transactionColumns} FROM ledger_transaction t WHERE t.sequence BETWEEN $1 AND $2 ORDER BY t.sequence LIMIT $3`,
    [from.toString(), to.toString(), limit],
  );
  if (transactions.rows.length === 0) return [];
  const entries = await database.query<EntryRow>(`SELECT ${entryColumns} FROM ledger_entry e WHERE e.transaction_id = ANY($1::uuid[])`, [
    transactions.rows.map((row) => row.id),
  ]);
  const grouped = entriesByTransaction(entries.rows);
  return transactions.rows.map((row) => toTransaction(row, grouped.get(row.id) ?? []));
}
