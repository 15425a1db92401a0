// The batch write: every row of a planned batch in one call of
// ledger_write_batch (multi-row unnest inserts and updates, in the migrations).
import type pg from "pg";
import type { BatchPlan } from "../domain/engine.ts";
import type { BalanceRecord } from "../domain/records.ts";
import { byteaArray, int4Array, int8Array, numericArray, textArray, timestampArray, uuidArray } from "./binary-array.ts";

/**
 * A PostgreSQL array literal of enum labels (transaction kinds, entry
 * directions), with null as NULL: the batch write's enum arrays stay text
 * (binary-array.ts says why), as does its metadata (metadataJson). pg's
 * generic encoder quotes and escapes every element; these labels never need
 * it, and anything that would is refused rather than sent unquoted.
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

/** A balance's account id, four totals and last sequence, as six array parameters in that order (the batch functions' balance arguments). */
export function balanceColumns(balances: readonly BalanceRecord[]): unknown[] {
  return [
    uuidArray(balances.map((balance) => balance.accountId)),
    numericArray(balances.map((balance) => balance.debitsPosted)),
    numericArray(balances.map((balance) => balance.creditsPosted)),
    numericArray(balances.map((balance) => balance.debitsPending)),
    numericArray(balances.map((balance) => balance.creditsPending)),
    int8Array(balances.map((balance) => balance.lastSequence)),
  ];
}

/**
 * A transaction's metadata as jsonb text, or null when it has none, which
 * ledger_write_batch stores as '{}': PostgreSQL's JSON parser costs about
 * 2 µs per value however small, text or binary, and most transactions carry
 * no metadata.
 */
function metadataJson(metadata: Record<string, string>): string | null {
  return Object.keys(metadata).length === 0 ? null : JSON.stringify(metadata);
}

/**
 * ledger_write_batch's arguments, in order (also the tail of
 * ledger_commit_planned_batch's): every array in PostgreSQL's binary format
 * (binary-array.ts) but the enum labels and the metadata.
 */
export function writeColumns(plan: BatchPlan): unknown[] {
  const transactions = plan.transactions;
  const entries = transactions.flatMap((transaction) => transaction.entries);
  const balances = plan.changedBalances;
  return [
    uuidArray(transactions.map((transaction) => transaction.id)),
    int8Array(transactions.map((transaction) => transaction.sequence)),
    plainArrayLiteral(transactions.map((transaction) => transaction.kind)),
    textArray(transactions.map((transaction) => transaction.idempotencyScope)),
    textArray(transactions.map((transaction) => transaction.idempotencyKey)),
    byteaArray(transactions.map((transaction) => transaction.requestHash)),
    textArray(transactions.map((transaction) => transaction.reference)),
    transactions.map((transaction) => metadataJson(transaction.metadata)),
    uuidArray(transactions.map((transaction) => transaction.pendingTransactionId)),
    timestampArray(transactions.map((transaction) => transaction.timeoutAt)),
    textArray(transactions.map((transaction) => transaction.voidReason)),
    textArray(transactions.map((transaction) => transaction.createdBy)),
    byteaArray(transactions.map((transaction) => transaction.previousHash)),
    byteaArray(transactions.map((transaction) => transaction.hash)),
    timestampArray(transactions.map((transaction) => transaction.createdAt)),
    uuidArray(entries.map((entry) => entry.id)),
    uuidArray(entries.map((entry) => entry.transactionId)),
    int8Array(entries.map((entry) => entry.sequence)),
    plainArrayLiteral(entries.map((entry) => entry.transactionKind)),
    int4Array(entries.map((entry) => entry.postingIndex)),
    uuidArray(entries.map((entry) => entry.accountId)),
    uuidArray(entries.map((entry) => entry.counterpartyAccountId)),
    plainArrayLiteral(entries.map((entry) => entry.direction)),
    textArray(entries.map((entry) => entry.currency)),
    numericArray(entries.map((entry) => entry.amount)),
    numericArray(entries.map((entry) => entry.postedBalanceAfter)),
    numericArray(entries.map((entry) => entry.availableBalanceAfter)),
    textArray(entries.map((entry) => entry.reference)),
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
