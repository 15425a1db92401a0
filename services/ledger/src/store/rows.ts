// Rows as pg returns them, and their conversion to records. pg hands NUMERIC
// and BIGINT over as text, which is exactly what bigint needs: no float ever
// sees an amount. Every conversion asserts what the database promises (the
// "assert after reading" half of the invariants), so a row altered behind the
// constraints fails loudly instead of flowing into a response.
import { type Currency, isCurrency, minorFromDatabase } from "../domain/money.ts";
import {
  type AccountKindName,
  type AccountRecord,
  accountKinds,
  type BalanceRecord,
  type Direction,
  type EntryRecord,
  type TransactionKindName,
  type TransactionRecord,
  transactionKinds,
} from "../domain/records.ts";

export interface AccountRow {
  id: string;
  owner_id: string | null;
  currency: string;
  kind: string;
  debits_must_not_exceed_credits: boolean;
  credits_must_not_exceed_debits: boolean;
  address: string | null;
  metadata: Record<string, string>;
  created_at: Date;
}

export const accountColumns = `a.id, a.owner_id, a.currency, a.kind, a.debits_must_not_exceed_credits,
  a.credits_must_not_exceed_debits, a.address, a.metadata, a.created_at`;

export interface BalanceRow {
  account_id: string;
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
  last_sequence: string;
}

export const balanceColumns = "b.account_id, b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending, b.last_sequence";

export interface TransactionRow {
  id: string;
  sequence: string;
  kind: string;
  idempotency_scope: string;
  idempotency_key: string;
  request_hash: Buffer;
  reference: string;
  metadata: Record<string, string>;
  pending_transaction_id: string | null;
  timeout_at: Date | null;
  void_reason: string;
  created_by: string;
  previous_hash: Buffer;
  hash: Buffer;
  created_at: Date;
}

export const transactionColumns = `t.id, t.sequence, t.kind, t.idempotency_scope, t.idempotency_key, t.request_hash,
  t.reference, t.metadata, t.pending_transaction_id, t.timeout_at, t.void_reason, t.created_by, t.previous_hash,
  t.hash, t.created_at`;

export interface EntryRow {
  id: string;
  transaction_id: string;
  sequence: string;
  transaction_kind: string;
  posting_index: number;
  account_id: string;
  counterparty_account_id: string;
  direction: string;
  currency: string;
  amount: string;
  posted_balance_after: string;
  available_balance_after: string;
  reference: string;
  created_at: Date;
}

export const entryColumns = `e.id, e.transaction_id, e.sequence, e.transaction_kind, e.posting_index, e.account_id,
  e.counterparty_account_id, e.direction, e.currency, e.amount, e.posted_balance_after, e.available_balance_after,
  e.reference, e.created_at`;

function currencyOf(value: string): Currency {
  if (!isCurrency(value)) throw new Error(`ledger: unsupported currency ${JSON.stringify(value)} in the database`);
  return value;
}

function transactionKindOf(value: string): TransactionKindName {
  if (!(transactionKinds as readonly string[]).includes(value)) throw new Error(`ledger: unknown transaction kind ${value}`);
  return value as TransactionKindName;
}

export function toAccount(row: AccountRow): AccountRecord {
  if (!(accountKinds as readonly string[]).includes(row.kind)) throw new Error(`ledger: unknown account kind ${row.kind}`);
  if (row.debits_must_not_exceed_credits && row.credits_must_not_exceed_debits) {
    throw new Error(`ledger: account ${row.id} carries both exclusive flags`);
  }
  return {
    id: row.id,
    ownerId: row.owner_id,
    currency: currencyOf(row.currency),
    kind: row.kind as AccountKindName,
    debitsMustNotExceedCredits: row.debits_must_not_exceed_credits,
    creditsMustNotExceedDebits: row.credits_must_not_exceed_debits,
    address: row.address,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}

export function toBalance(row: BalanceRow): BalanceRecord {
  const balance = {
    accountId: row.account_id,
    debitsPosted: minorFromDatabase(row.debits_posted),
    creditsPosted: minorFromDatabase(row.credits_posted),
    debitsPending: minorFromDatabase(row.debits_pending),
    creditsPending: minorFromDatabase(row.credits_pending),
    lastSequence: BigInt(row.last_sequence),
  };
  if (balance.debitsPosted < 0n || balance.creditsPosted < 0n || balance.debitsPending < 0n || balance.creditsPending < 0n) {
    throw new Error(`ledger: balance of ${row.account_id} has a negative total`);
  }
  return balance;
}

export function toEntry(row: EntryRow): EntryRecord {
  // Shape only: whether the amounts add up is for postingsOf, VerifyChain and Reconcile to judge.
  const amount = minorFromDatabase(row.amount);
  if (row.direction !== "DEBIT" && row.direction !== "CREDIT") throw new Error(`ledger: entry ${row.id} has no direction`);
  return {
    id: row.id,
    transactionId: row.transaction_id,
    sequence: BigInt(row.sequence),
    transactionKind: transactionKindOf(row.transaction_kind),
    postingIndex: row.posting_index,
    accountId: row.account_id,
    counterpartyAccountId: row.counterparty_account_id,
    direction: row.direction as Direction,
    currency: currencyOf(row.currency),
    amount,
    postedBalanceAfter: minorFromDatabase(row.posted_balance_after),
    availableBalanceAfter: minorFromDatabase(row.available_balance_after),
    reference: row.reference,
    createdAt: row.created_at,
  };
}

/** A transaction with its entries; does not judge balance (VerifyChain and Reconcile must see damage, not crash on it). */
export function toTransaction(row: TransactionRow, entries: EntryRecord[]): TransactionRecord {
  return {
    id: row.id,
    sequence: BigInt(row.sequence),
    kind: transactionKindOf(row.kind),
    idempotencyScope: row.idempotency_scope,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    reference: row.reference,
    metadata: row.metadata,
    pendingTransactionId: row.pending_transaction_id,
    timeoutAt: row.timeout_at,
    voidReason: row.void_reason,
    createdBy: row.created_by,
    previousHash: row.previous_hash,
    hash: row.hash,
    createdAt: row.created_at,
    entries,
  };
}

/** Groups entries by transaction id, keeping the query's order. */
export function entriesByTransaction(rows: EntryRow[]): Map<string, EntryRecord[]> {
  const grouped = new Map<string, EntryRecord[]>();
  for (const row of rows) {
    const list = grouped.get(row.transaction_id) ?? [];
    list.push(toEntry(row));
    grouped.set(row.transaction_id, list);
  }
  return grouped;
}
