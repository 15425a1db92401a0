// Statement reads: an account's entries page by page, and its balance at a past
// moment recomputed from entries.

import { minorFromDatabase } from "../domain/money.ts";
import type { BalanceTotals, EntryRecord, TransactionKindName } from "../domain/records.ts";
import type { Queryable } from "./database.ts";
import { type EntryRow, entryColumns, toEntry } from "./rows.ts";

export interface EntryFilter {
  accountId: string;
  startTime?: Date;
  endTime?: Date;
  transactionId?: string;
  reference?: string;
  direction?: "DEBIT" | "CREDIT";
  kinds?: TransactionKindName[];
}

/** A position in one account's statement: entries are ordered by (sequence, posting index). */
export interface EntryCursor {
  sequence: bigint;
  postingIndex: number;
}

export async function listEntries(
  database: Queryable,
  filter: EntryFilter,
  after: EntryCursor | undefined,
  oldestFirst: boolean,
  limit: number,
): Promise<EntryRecord[]> {
  const values: unknown[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const conditions = [`e.account_id = ${bind(filter.accountId)}`];
  // Times become a sequence range (commit times never decrease along the chain), which the
  // (account, sequence) index serves; the time condition itself stays, exact.
  const firstSequenceAt = (moment: Date) =>
    `(SELECT coalesce((SELECT t.sequence FROM ledger_transaction t WHERE t.created_at >= ${bind(moment)}
       ORDER BY t.created_at, t.sequence LIMIT 1), 9223372036854775807))`;
  if (filter.startTime !== undefined) {
    conditions.push(`e.sequence >= ${firstSequenceAt(filter.startTime)}`, `e.created_at >= ${bind(filter.startTime)}`);
  }
  if (filter.endTime !== undefined) {
    conditions.push(`e.sequence < ${firstSequenceAt(filter.endTime)}`, `e.created_at < ${bind(filter.endTime)}`);
  }
  if (filter.transactionId !== undefined) conditions.push(`e.transaction_id = ${bind(filter.transactionId)}`);
  if (filter.reference !== undefined) conditions.push(`e.reference = ${bind(filter.reference)}`);
  if (filter.direction !== undefined) conditions.push(`e.direction = ${bind(filter.direction)}`);
  if (filter.kinds !== undefined) conditions.push(`e.transaction_kind = ANY(${bind(filter.kinds)}::transaction_kind[])`);
  const order = oldestFirst ? "ASC" : "DESC";
  if (after !== undefined) {
    conditions.push(
      `(e.sequence, e.posting_index) ${oldestFirst ? ">" : "<"} (${bind(after.sequence.toString())}, ${bind(after.postingIndex)})`,
    );
  }
  const result = await database.query<EntryRow>(
    `SELECT ${entryColumns} FROM ledger_entry e WHERE ${conditions.join(" AND ")}
     ORDER BY e.sequence ${order}, e.posting_index ${order} LIMIT ${bind(limit)}`,
    values,
  );
  return result.rows.map(toEntry);
}

/**
 * An account's totals as they were at `asOf`, from its entries: posted totals
 * from POSTED and POST_PENDING entries, pending totals from PENDING entries
 * whose transaction had not been resolved by then.
 */
export async function balanceAsOf(database: Queryable, accountId: string, asOf: Date): Promise<BalanceTotals & { lastSequence: bigint }> {
  const result = await database.query<{
    debits_posted: string;
    credits_posted: string;
    debits_pending: string;
    credits_pending: string;
    last_sequence: string;
  }>(
    `SELECT
       COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'DEBIT' AND e.transaction_kind IN ('POSTED', 'POST_PENDING')), 0) AS debits_posted,
       COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'CREDIT' AND e.transaction_kind IN ('POSTED', 'POST_PENDING')), 0) AS credits_posted,
       COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'DEBIT' AND e.transaction_kind = 'PENDING' AND r.id IS NULL), 0) AS debits_pending,
       COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'CREDIT' AND e.transaction_kind = 'PENDING' AND r.id IS NULL), 0) AS credits_pending,
       COALESCE(max(e.sequence), 0) AS last_sequence
     FROM ledger_entry e
     -- "IS NOT NULL" lets the planner use the partial index of resolutions.
     LEFT JOIN ledger_transaction r ON r.pending_transaction_id IS NOT NULL AND r.pending_transaction_id = e.transaction_id AND r.created_at <= $2
     WHERE e.account_id = $1 AND e.created_at <= $2
       AND e.sequence <= (SELECT coalesce((SELECT t.sequence FROM ledger_transaction t WHERE t.created_at <= $2
         ORDER BY t.created_at DESC, t.sequence DESC LIMIT 1), 0))`,
    [accountId, asOf],
  );
  const row = result.rows[0];
  if (row === undefined) throw new Error("ledger: an aggregate returned no row");
  return {
    debitsPosted: minorFromDatabase(row.debits_posted),
    creditsPosted: minorFromDatabase(row.credits_posted),
    debitsPending: minorFromDatabase(row.debits_pending),
    creditsPending: minorFromDatabase(row.credits_pending),
    lastSequence: BigInt(row.last_sequence),
  };
}
