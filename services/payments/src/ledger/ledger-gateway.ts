// What payments needs from the ledger (proto/trustmesh/ledger/v1), as a small
// interface the processor takes in its constructor: the real one calls the
// ledger over gRPC with a service token, tests may pass one served by a
// double. Every call that moves money carries an idempotency key derived from
// the payment id and the step ("payment:<id>:reserve"), so any step can be
// retried after a crash without moving money twice.

/** System accounts the ledger creates at start, found by address ("system:fee_revenue:USD"). */
export type SystemAccountKind = "fee_revenue" | "settlement" | "clearing" | "external:sandbox";

export interface LedgerPosting {
  debitAccountId: string;
  creditAccountId: string;
  currency: string;
  amountMinor: bigint;
}

export interface NewLedgerTransaction {
  idempotencyKey: string;
  /** The payment id, so the ledger can list a payment's entries. */
  reference: string;
  postings: readonly LedgerPosting[];
  metadata?: Record<string, string>;
}

export interface LedgerGateway {
  /** The user's wallet in the currency, created on first use under the key "wallet:<user>:<currency>". */
  walletAccountId(userId: string, currency: string): Promise<string>;
  systemAccountId(kind: SystemAccountKind, currency: string): Promise<string>;
  /** Commits a PENDING transaction that reserves the debits until posted, voided or timed out. */
  reserve(transaction: NewLedgerTransaction, timeoutMs: number): Promise<{ transactionId: string }>;
  /** Posts a pending transaction in full. */
  postPending(pendingTransactionId: string, idempotencyKey: string): Promise<{ transactionId: string }>;
  voidPending(pendingTransactionId: string, idempotencyKey: string, reason: string): Promise<{ transactionId: string }>;
  /** Commits a transaction posted at once. */
  transfer(transaction: NewLedgerTransaction): Promise<{ transactionId: string }>;
  /** Credits minus debits minus reserved debits. */
  availableBalance(accountId: string): Promise<bigint>;
}

/** Why the ledger refused (ledger.proto, RejectionReason without its prefix). */
export type LedgerRejectionReason =
  | "ACCOUNT_NOT_FOUND"
  | "CURRENCY_MISMATCH"
  | "INSUFFICIENT_FUNDS"
  | "CREDITS_EXCEED_DEBITS"
  | "IDEMPOTENCY_CONFLICT"
  | "AMOUNT_OVERFLOW"
  | "PENDING_NOT_FOUND"
  | "PENDING_ALREADY_POSTED"
  | "PENDING_ALREADY_VOIDED"
  | "PENDING_EXPIRED"
  | "AMOUNT_EXCEEDS_PENDING"
  | "OTHER";

/**
 * The ledger's final answer that a step cannot be done. Anything else thrown by
 * a gateway (unreachable, deadline) is transient and the step is retried.
 */
export class LedgerRejection extends Error {
  readonly reason: LedgerRejectionReason;
  constructor(reason: LedgerRejectionReason, message: string) {
    super(message);
    this.name = "LedgerRejection";
    this.reason = reason;
  }
}

/** Idempotency key of one step of one payment. */
export function stepKey(paymentId: string, step: "reserve" | "post" | "void" | "claim"): string {
  return `payment:${paymentId}:${step}`;
}
