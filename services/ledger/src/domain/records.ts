// The ledger's records as the code sees them: what the store reads and writes,
// what the engine computes and the chain hashes. Amounts are bigint, hashes Buffers.
import type { Currency } from "./money.ts";

export const accountKinds = ["USER_WALLET", "FEE_REVENUE", "SETTLEMENT", "CLEARING", "EXTERNAL_RAIL"] as const;
export type AccountKindName = (typeof accountKinds)[number];

export const transactionKinds = ["POSTED", "PENDING", "POST_PENDING", "VOID_PENDING", "EXPIRE_PENDING"] as const;
export type TransactionKindName = (typeof transactionKinds)[number];

export type Direction = "DEBIT" | "CREDIT";

export interface AccountFlags {
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
}

export interface AccountRecord extends AccountFlags {
  id: string;
  ownerId: string | null;
  currency: Currency;
  kind: AccountKindName;
  address: string | null;
  metadata: Record<string, string>;
  createdAt: Date;
}

/** TigerBeetle's four running totals; every one is non-negative. */
export interface BalanceTotals {
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
}

export interface BalanceRecord extends BalanceTotals {
  accountId: string;
  /** Sequence of the last transaction that touched the account (0: none). */
  lastSequence: bigint;
}

export interface EntryRecord {
  id: string;
  transactionId: string;
  sequence: bigint;
  transactionKind: TransactionKindName;
  postingIndex: number;
  accountId: string;
  counterpartyAccountId: string;
  direction: Direction;
  currency: Currency;
  amount: bigint;
  /** credits_posted − debits_posted right after this entry. */
  postedBalanceAfter: bigint;
  /** credits_posted − debits_posted − debits_pending right after this entry. */
  availableBalanceAfter: bigint;
  reference: string;
  createdAt: Date;
}

export interface TransactionRecord {
  id: string;
  sequence: bigint;
  kind: TransactionKindName;
  idempotencyScope: string;
  idempotencyKey: string;
  requestHash: Buffer;
  reference: string;
  metadata: Record<string, string>;
  pendingTransactionId: string | null;
  timeoutAt: Date | null;
  voidReason: string;
  createdBy: string;
  previousHash: Buffer;
  hash: Buffer;
  createdAt: Date;
  /** Ordered by posting index, debit before credit. */
  entries: EntryRecord[];
}

/** A transaction as read, with the pending status derived from its resolution. */
export interface TransactionView extends TransactionRecord {
  /** For PENDING: the kind of the transaction that resolved it, or null while open. */
  resolvedBy: TransactionKindName | null;
}

/** One posting: a debit and an equal credit in one currency. */
export interface PostingInput {
  debitAccountId: string;
  creditAccountId: string;
  currency: Currency;
  amount: bigint;
}

/**
 * True when the entries are, in order, one debit and then one credit of the
 * same positive amount and currency per posting, posting indexes rising: the
 * shape the engine builds and the store reads back. Such entries balance every
 * currency and are exactly their postings.
 */
export function isPairedInOrder(entries: readonly EntryRecord[]): boolean {
  if (entries.length % 2 !== 0) return false;
  for (let index = 0; index < entries.length; index += 2) {
    const debit = entries[index] as EntryRecord;
    const credit = entries[index + 1] as EntryRecord;
    if (debit.direction !== "DEBIT" || credit.direction !== "CREDIT" || debit.postingIndex !== credit.postingIndex) return false;
    if (debit.amount <= 0n || debit.amount !== credit.amount || debit.currency !== credit.currency) return false;
    if (index > 0 && (entries[index - 2] as EntryRecord).postingIndex >= debit.postingIndex) return false;
  }
  return true;
}

/** The postings a transaction's entries describe, in posting order. */
export function postingsOf(entries: readonly EntryRecord[]): (PostingInput & { postingIndex: number })[] {
  if (isPairedInOrder(entries)) {
    // The same result as the general way below, without its map and sort (a batch's response makes thousands).
    const postings: (PostingInput & { postingIndex: number })[] = [];
    for (let index = 0; index < entries.length; index += 2) {
      const debit = entries[index] as EntryRecord;
      const credit = entries[index + 1] as EntryRecord;
      postings.push({
        postingIndex: debit.postingIndex,
        debitAccountId: debit.accountId,
        creditAccountId: credit.accountId,
        currency: debit.currency,
        amount: debit.amount,
      });
    }
    return postings;
  }
  const byIndex = new Map<number, { debit?: EntryRecord; credit?: EntryRecord }>();
  for (const entry of entries) {
    const pair = byIndex.get(entry.postingIndex) ?? {};
    if (entry.direction === "DEBIT") pair.debit = entry;
    else pair.credit = entry;
    byIndex.set(entry.postingIndex, pair);
  }
  return [...byIndex.entries()]
    .sort(([a], [b]) => a - b)
    .map(([postingIndex, { debit, credit }]) => {
      if (!debit || !credit || debit.amount <= 0n || debit.amount !== credit.amount || debit.currency !== credit.currency) {
        throw new Error(`ledger: posting ${postingIndex} of transaction ${entries[0]?.transactionId} is not one balanced debit and credit`);
      }
      return {
        postingIndex,
        debitAccountId: debit.accountId,
        creditAccountId: credit.accountId,
        currency: debit.currency,
        amount: debit.amount,
      };
    });
}

export function postedBalance(totals: BalanceTotals): bigint {
  return totals.creditsPosted - totals.debitsPosted;
}

export function pendingBalance(totals: BalanceTotals): bigint {
  return totals.creditsPending - totals.debitsPending;
}

/** Reserved debits count at once, promised credits only once posted. */
export function availableBalance(totals: BalanceTotals): bigint {
  return totals.creditsPosted - totals.debitsPosted - totals.debitsPending;
}
