// Records to protobuf messages. Amounts leave as decimal strings, signed
// balances as signed decimal strings, hashes as bytes.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AccountKind,
  type AccountSchema,
  type Balance,
  BalanceSchema,
  EntryDirection,
  type EntrySchema,
  PendingStatus,
  RejectionReason,
  type RejectionSchema,
  TransactionKind,
  type TransactionSchema,
} from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import type { RejectionRecord } from "../domain/engine.ts";
import {
  type AccountRecord,
  availableBalance,
  type BalanceTotals,
  type EntryRecord,
  pendingBalance,
  postedBalance,
  postingsOf,
  type TransactionKindName,
  type TransactionRecord,
} from "../domain/records.ts";

export const transactionKindToProto: Record<TransactionKindName, TransactionKind> = {
  POSTED: TransactionKind.POSTED,
  PENDING: TransactionKind.PENDING,
  POST_PENDING: TransactionKind.POST_PENDING,
  VOID_PENDING: TransactionKind.VOID_PENDING,
  EXPIRE_PENDING: TransactionKind.EXPIRE_PENDING,
};

const pendingStatusOf: Record<TransactionKindName, PendingStatus> = {
  POSTED: PendingStatus.UNSPECIFIED,
  PENDING: PendingStatus.UNSPECIFIED,
  POST_PENDING: PendingStatus.POSTED,
  VOID_PENDING: PendingStatus.VOIDED,
  EXPIRE_PENDING: PendingStatus.EXPIRED,
};

function money(currency: string, amount: bigint) {
  return { currency, amountMinor: amount.toString() };
}

/** The account's balance as of `asOf`: its totals and the sequence of the last transaction that moved them. */
export function balanceToProto(
  account: Pick<AccountRecord, "id" | "currency">,
  totals: BalanceTotals & { lastSequence: bigint },
  asOf: Date,
): Balance {
  const currency = account.currency;
  return create(BalanceSchema, {
    accountId: account.id,
    currency,
    debitsPosted: money(currency, totals.debitsPosted),
    creditsPosted: money(currency, totals.creditsPosted),
    debitsPending: money(currency, totals.debitsPending),
    creditsPending: money(currency, totals.creditsPending),
    postedMinor: postedBalance(totals).toString(),
    pendingMinor: pendingBalance(totals).toString(),
    availableMinor: availableBalance(totals).toString(),
    sequence: totals.lastSequence,
    asOf: timestampFromDate(asOf),
  });
}

export function accountToProto(account: AccountRecord, balance: Balance | undefined): MessageInitShape<typeof AccountSchema> {
  return {
    id: account.id,
    ownerId: account.ownerId ?? "",
    currency: account.currency,
    kind: AccountKind[account.kind],
    flags: {
      debitsMustNotExceedCredits: account.debitsMustNotExceedCredits,
      creditsMustNotExceedDebits: account.creditsMustNotExceedDebits,
    },
    address: account.address ?? "",
    metadata: account.metadata,
    createdAt: timestampFromDate(account.createdAt),
    balance,
  };
}

// The transactions of one batch share one commit time: its Timestamp is made
// once and shared by their messages, which are only ever serialised.
let lastTime: Date | undefined;
let lastMs = Number.NaN;
let lastTimestamp: Timestamp | undefined;

/** timestampFromDate(time), remembered for the last Date seen (checked by value too, since a Date can change). */
function sharedTimestamp(time: Date): Timestamp {
  const ms = time.getTime();
  if (lastTimestamp === undefined || time !== lastTime || ms !== lastMs) {
    lastTimestamp = timestampFromDate(time);
    lastTime = time;
    lastMs = ms;
  }
  return lastTimestamp;
}

/** A transaction as a message; `resolvedBy` is what resolved a PENDING one (null while open). */
export function transactionToProto(
  transaction: TransactionRecord,
  resolvedBy: TransactionKindName | null,
): MessageInitShape<typeof TransactionSchema> {
  return {
    id: transaction.id,
    kind: transactionKindToProto[transaction.kind],
    postings: postingsOf(transaction.entries).map((posting) => ({
      debitAccountId: posting.debitAccountId,
      creditAccountId: posting.creditAccountId,
      amount: money(posting.currency, posting.amount),
    })),
    idempotencyKey: transaction.idempotencyKey,
    reference: transaction.reference,
    metadata: transaction.metadata,
    pendingTransactionId: transaction.pendingTransactionId ?? "",
    pendingStatus:
      transaction.kind !== "PENDING" ? PendingStatus.UNSPECIFIED : resolvedBy === null ? PendingStatus.OPEN : pendingStatusOf[resolvedBy],
    timeoutAt: transaction.timeoutAt === null ? undefined : timestampFromDate(transaction.timeoutAt),
    voidReason: transaction.voidReason,
    createdBy: transaction.createdBy,
    sequence: transaction.sequence,
    previousHash: transaction.previousHash,
    hash: transaction.hash,
    createdAt: sharedTimestamp(transaction.createdAt),
  };
}

export function entryToProto(entry: EntryRecord): MessageInitShape<typeof EntrySchema> {
  return {
    id: entry.id,
    transactionId: entry.transactionId,
    sequence: entry.sequence,
    transactionKind: transactionKindToProto[entry.transactionKind],
    postingIndex: entry.postingIndex,
    accountId: entry.accountId,
    counterpartyAccountId: entry.counterpartyAccountId,
    direction: entry.direction === "DEBIT" ? EntryDirection.DEBIT : EntryDirection.CREDIT,
    amount: money(entry.currency, entry.amount),
    postedBalanceAfterMinor: entry.postedBalanceAfter.toString(),
    availableBalanceAfterMinor: entry.availableBalanceAfter.toString(),
    reference: entry.reference,
    createdAt: timestampFromDate(entry.createdAt),
  };
}

export function rejectionToProto(rejection: RejectionRecord): MessageInitShape<typeof RejectionSchema> {
  return {
    reason: RejectionReason[rejection.reason],
    detail: rejection.detail,
    postingIndex: rejection.postingIndex,
    accountId: rejection.accountId ?? "",
  };
}
