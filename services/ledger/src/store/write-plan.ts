// The batch write: every row of a planned batch in one call of
// ledger_write_batch (multi-row unnest inserts and updates, in the migrations).
import type pg from "pg";
import type { BatchPlan } from "../domain/engine.ts";
import { isoTime } from "../domain/iso-time.ts";
import type { BalanceRecord } from "../domain/records.ts";

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

const isoOrNull = (time: Date | null) => (time === null ? null : isoTime(time));

/** A balance's account id, four totals and last sequence, as six array literals in that order (the batch functions' balance arguments). */
export function balanceColumns(balances: readonly BalanceRecord[]): string[] {
  return [
    plainArrayLiteral(balances.map((balance) => balance.accountId)),
    plainArrayLiteral(balances.map((balance) => balance.debitsPosted.toString())),
    plainArrayLiteral(balances.map((balance) => balance.creditsPosted.toString())),
    plainArrayLiteral(balances.map((balance) => balance.debitsPending.toString())),
    plainArrayLiteral(balances.map((balance) => balance.creditsPending.toString())),
    plainArrayLiteral(balances.map((balance) => balance.lastSequence.toString())),
  ];
}

/** ledger_write_batch's arguments, in order (also the tail of ledger_commit_planned_batch's). */
export function writeColumns(plan: BatchPlan): unknown[] {
  const transactions = plan.transactions;
  const entries = transactions.flatMap((transaction) => transaction.entries);
  const balances = plan.changedBalances;
  const plain = plainArrayLiteral;
  return [
    plain(transactions.map((transaction) => transaction.id)),
    plain(transactions.map((transaction) => transaction.sequence.toString())),
    plain(transactions.map((transaction) => transaction.kind)),
    transactions.map((transaction) => transaction.idempotencyScope),
    transactions.map((transaction) => transaction.idempotencyKey),
    transactions.map((transaction) => transaction.requestHash),
    transactions.map((transaction) => transaction.reference),
    transactions.map((transaction) => JSON.stringify(transaction.metadata)),
    plain(transactions.map((transaction) => transaction.pendingTransactionId)),
    plain(transactions.map((transaction) => isoOrNull(transaction.timeoutAt))),
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
    ...balanceColumns(balances),
    plain(plan.openedPendings.map((pending) => pending.transactionId)),
    plain(plan.openedPendings.map((pending) => pending.timeoutAt.toISOString())),
    plain(plan.closedPendings),
    plan.head.sequence.toString(),
    plan.head.hash,
    plan.head.createdAt,
  ];
}

export async function writePlan(client: pg.PoolClient, plan: BatchPlan): Promise<void> {
  const columns = writeColumns(plan);
  const placeholders = columns.map((_, index) => `$${index + 1}`).join(", ");
  // Named, so each connection parses and plans the call once.
  await client.query({ name: "ledger_write_batch", text: `SELECT ledger_write_batch(${placeholders})`, values: columns });
}
