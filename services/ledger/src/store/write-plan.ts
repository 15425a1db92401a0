// The batch write: every row of a planned batch in one call of
// ledger_write_batch (multi-row unnest inserts and updates, in the migrations).
import type pg from "pg";
import type { BatchPlan } from "../domain/engine.ts";
import type { BalanceRecord } from "../domain/records.ts";
import { timestampArray, uuidArray } from "./binary-array.ts";

/**
 * A PostgreSQL array literal of values that never need quoting — decimal
 * integers, enum names, currency codes, UUIDs, ISO-8601 times — with null as
 * NULL. pg's generic encoder quotes and escapes every element, and a batch of
 * 1000 transfers has thousands of them (its UUIDs and times go in the binary
 * format instead: binary-array.ts). Anything else is refused rather than sent
 * unquoted.
 */
export function plainArrayLiteral(values: readonly (string | null)[]): string {
  for (const value of values) {
    if (value !== null && (!plainElement.test(value) || nullWord.test(value))) {
      throw new Error(`ledger: ${JSON.stringify(value)} cannot go unquoted in an array literal`);
    }
  }
  return `{${values.map((value) => value ?? "NULL").join(",")}}`;
}

/**
 * A PostgreSQL array literal of integers. A bigint spells itself in decimal
 * digits and a minus sign only, so nothing needs checking: this skips the
 * per-element test plainArrayLiteral makes, for the batch's many amount,
 * balance and sequence columns.
 */
export function integerArrayLiteral(values: readonly bigint[]): string {
  return `{${values.join(",")}}`;
}

// No quote, backslash, brace, comma or white space; and not the word NULL, which would read as null.
const plainElement = /^[0-9A-Za-z_.:+-]+$/;
const nullWord = /^null$/i;

/** A balance's account id, four totals and last sequence, as six array parameters in that order (the batch functions' balance arguments). */
export function balanceColumns(balances: readonly BalanceRecord[]): unknown[] {
  const integers = integerArrayLiteral;
  return [
    uuidArray(balances.map((balance) => balance.accountId)),
    integers(balances.map((balance) => balance.debitsPosted)),
    integers(balances.map((balance) => balance.creditsPosted)),
    integers(balances.map((balance) => balance.debitsPending)),
    integers(balances.map((balance) => balance.creditsPending)),
    integers(balances.map((balance) => balance.lastSequence)),
  ];
}

/**
 * ledger_write_batch's arguments, in order (also the tail of
 * ledger_commit_planned_batch's): UUIDs and times in the binary format
 * (binary-array.ts), the rest as text.
 */
export function writeColumns(plan: BatchPlan): unknown[] {
  const transactions = plan.transactions;
  const entries = transactions.flatMap((transaction) => transaction.entries);
  const balances = plan.changedBalances;
  const plain = plainArrayLiteral;
  const integers = integerArrayLiteral;
  return [
    uuidArray(transactions.map((transaction) => transaction.id)),
    integers(transactions.map((transaction) => transaction.sequence)),
    plain(transactions.map((transaction) => transaction.kind)),
    transactions.map((transaction) => transaction.idempotencyScope),
    transactions.map((transaction) => transaction.idempotencyKey),
    transactions.map((transaction) => transaction.requestHash),
    transactions.map((transaction) => transaction.reference),
    transactions.map((transaction) => JSON.stringify(transaction.metadata)),
    uuidArray(transactions.map((transaction) => transaction.pendingTransactionId)),
    timestampArray(transactions.map((transaction) => transaction.timeoutAt)),
    transactions.map((transaction) => transaction.voidReason),
    transactions.map((transaction) => transaction.createdBy),
    transactions.map((transaction) => transaction.previousHash),
    transactions.map((transaction) => transaction.hash),
    timestampArray(transactions.map((transaction) => transaction.createdAt)),
    uuidArray(entries.map((entry) => entry.id)),
    uuidArray(entries.map((entry) => entry.transactionId)),
    integers(entries.map((entry) => entry.sequence)),
    plain(entries.map((entry) => entry.transactionKind)),
    plain(entries.map((entry) => entry.postingIndex.toString())),
    uuidArray(entries.map((entry) => entry.accountId)),
    uuidArray(entries.map((entry) => entry.counterpartyAccountId)),
    plain(entries.map((entry) => entry.direction)),
    plain(entries.map((entry) => entry.currency)),
    integers(entries.map((entry) => entry.amount)),
    integers(entries.map((entry) => entry.postedBalanceAfter)),
    integers(entries.map((entry) => entry.availableBalanceAfter)),
    entries.map((entry) => entry.reference),
    timestampArray(entries.map((entry) => entry.createdAt)),
    ...balanceColumns(balances),
    uuidArray(plan.openedPendings.map((pending) => pending.transactionId)),
    timestampArray(plan.openedPendings.map((pending) => pending.timeoutAt)),
    uuidArray(plan.closedPendings),
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
