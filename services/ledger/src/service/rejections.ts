// A rejected operation as the error of a unary posting RPC. The reason (the
// RejectionReason name without its prefix) is the ErrorInfo reason; the code
// says what the caller can do about it (README: "Errors").
import { Code } from "@connectrpc/connect";
import { DomainError, type FieldViolation } from "@trustmesh/runtime";
import type { RejectionReasonName, RejectionRecord } from "../domain/engine.ts";

const codes: Record<RejectionReasonName, Code> = {
  ACCOUNT_NOT_FOUND: Code.NotFound,
  PENDING_NOT_FOUND: Code.NotFound,
  CURRENCY_MISMATCH: Code.InvalidArgument,
  AMOUNT_EXCEEDS_PENDING: Code.InvalidArgument,
  INSUFFICIENT_FUNDS: Code.FailedPrecondition,
  CREDITS_EXCEED_DEBITS: Code.FailedPrecondition,
  PENDING_ALREADY_POSTED: Code.FailedPrecondition,
  PENDING_ALREADY_VOIDED: Code.FailedPrecondition,
  PENDING_EXPIRED: Code.FailedPrecondition,
  IDEMPOTENCY_CONFLICT: Code.AlreadyExists,
  AMOUNT_OVERFLOW: Code.OutOfRange,
  BATCH_ABORTED: Code.Aborted,
};

/** Where in the request a rejection points, for google.rpc.BadRequest. */
export interface RejectionFields {
  /** The NewTransaction's path ("transaction") for transfers; absent for PostPending and VoidPending. */
  transactionField?: string;
  /** The account ids of each posting, to tell which side an account rejection is about. */
  postings?: readonly { debitAccountId: string; creditAccountId: string }[];
}

function fieldOf(rejection: RejectionRecord, where: RejectionFields): string | undefined {
  const index = rejection.postingIndex;
  const prefix = where.transactionField;
  switch (rejection.reason) {
    case "IDEMPOTENCY_CONFLICT":
      return prefix === undefined ? "idempotency_key" : `${prefix}.idempotency_key`;
    case "ACCOUNT_NOT_FOUND": {
      if (prefix === undefined || index === undefined) return undefined;
      const side = where.postings?.[index]?.debitAccountId === rejection.accountId ? "debit_account_id" : "credit_account_id";
      return `${prefix}.postings[${index}].${side}`;
    }
    case "CURRENCY_MISMATCH":
      if (index === undefined) return undefined;
      return prefix === undefined ? `amounts[${index}].currency` : `${prefix}.postings[${index}].amount.currency`;
    case "AMOUNT_EXCEEDS_PENDING":
      return index === undefined ? "amounts" : `amounts[${index}].amount_minor`;
    case "PENDING_NOT_FOUND":
      return "pending_transaction_id";
    default:
      return undefined;
  }
}

export function rejectionError(rejection: RejectionRecord, where: RejectionFields = {}): DomainError {
  const field = fieldOf(rejection, where);
  const violations: FieldViolation[] = field === undefined ? [] : [{ field, description: rejection.detail, reason: rejection.reason }];
  const metadata: Record<string, string> = {};
  if (rejection.postingIndex !== undefined) metadata.posting_index = String(rejection.postingIndex);
  if (rejection.accountId !== undefined) metadata.account_id = rejection.accountId;
  const message = field === undefined ? rejection.detail : `${field}: ${rejection.detail}`;
  return new DomainError(codes[rejection.reason], message, { reason: rejection.reason, metadata, violations });
}
