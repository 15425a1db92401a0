// Requests to engine operations. Each operation carries the SHA-256 of its
// canonical request document: the same key with an equal hash is a replay,
// with another hash a conflict (README: "Idempotency").
import type { NewTransaction } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import type { PostPendingRequest, VoidPendingRequest } from "@trustmesh/api/trustmesh/ledger/v1/ledger_service_pb.js";
import type { Money } from "@trustmesh/api/trustmesh/type/v1/money_pb.js";
import { invalidArgument, type Principal } from "@trustmesh/runtime";
import { type CanonicalValue, canonicalJson, jsonString as quote } from "../domain/canonical-json.ts";
import type { ResolveOperation, TransferOperation } from "../domain/engine.ts";
import { type Currency, isCurrency, parseAmountMinor } from "../domain/money.ts";
import { sha256 } from "../domain/sha256.ts";

/** Who is acting: the idempotency key space and the name recorded as created_by. */
export interface Caller {
  scope: string;
  createdBy: string;
}

export function callerOf(principal: Principal | undefined): Caller {
  if (principal === undefined) throw new Error("ledger: a handler ran without a principal");
  if (principal.kind === "service") return { scope: `service:${principal.serviceName}`, createdBy: principal.serviceName };
  return { scope: `user:${principal.userId}`, createdBy: `user:${principal.userId}` };
}

export function requestHash(document: CanonicalValue): Buffer {
  return sha256(canonicalJson(document));
}

type TransferPosting = TransferOperation["postings"][number];

/** The document a transfer's request hash is taken of: its definition (transferRequestJson is the fast spelling). */
export function transferRequestDocument(transaction: NewTransaction, postings: readonly TransferPosting[]): CanonicalValue {
  const timeout = transaction.pendingTimeout;
  return {
    operation: "transfer",
    postings: postings.map((posting) => ({
      debit_account_id: posting.debitAccountId,
      credit_account_id: posting.creditAccountId,
      currency: posting.currency,
      amount: posting.amount.toString(),
    })),
    pending: String(transaction.pending),
    pending_timeout: timeout === undefined ? "" : `${timeout.seconds}s${timeout.nanos}n`,
    reference: transaction.reference,
    metadata: transaction.metadata,
  };
}

/**
 * canonicalJson(transferRequestDocument(...)) with the keys written in sorted
 * order: every transfer is hashed on the request path, and the generic
 * encoder's sorting and recursion cost more than the hash. A test holds the two equal.
 */
export function transferRequestJson(transaction: NewTransaction, postings: readonly TransferPosting[]): string {
  const timeout = transaction.pendingTimeout;
  const postingsJson = postings
    .map(
      (posting) =>
        `{"amount":"${posting.amount}","credit_account_id":${quote(posting.creditAccountId)},"currency":${quote(posting.currency)},` +
        `"debit_account_id":${quote(posting.debitAccountId)}}`,
    )
    .join(",");
  return (
    `{"metadata":${canonicalJson(transaction.metadata)},"operation":"transfer","pending":"${transaction.pending}",` +
    `"pending_timeout":"${timeout === undefined ? "" : `${timeout.seconds}s${timeout.nanos}n`}",` +
    `"postings":[${postingsJson}],"reference":${quote(transaction.reference)}}`
  );
}

/** A validated Money as currency and bigint; the contract's rules already checked the shape, this re-checks it. */
export function parseMoney(value: Money | undefined, field: string): { currency: Currency; amount: bigint } {
  if (value === undefined) throw invalidArgument(field, "is required");
  if (!isCurrency(value.currency))
    throw invalidArgument(`${field}.currency`, `${JSON.stringify(value.currency)} is not a supported currency`);
  const amount = parseAmountMinor(value.amountMinor);
  if (amount === undefined) throw invalidArgument(`${field}.amount_minor`, "must be a non-negative integer of minor units");
  return { currency: value.currency, amount };
}

export function transferOperation(transaction: NewTransaction, caller: Caller, field: string): TransferOperation {
  const postings = transaction.postings.map((posting, index) => {
    const { currency, amount } = parseMoney(posting.amount, `${field}.postings[${index}].amount`);
    if (amount === 0n) throw invalidArgument(`${field}.postings[${index}].amount.amount_minor`, "must be greater than zero");
    return { debitAccountId: posting.debitAccountId, creditAccountId: posting.creditAccountId, currency, amount };
  });
  const timeout = transaction.pendingTimeout;
  const pendingTimeoutMs = timeout === undefined ? undefined : Number(timeout.seconds) * 1000 + Math.floor(timeout.nanos / 1_000_000);
  return {
    type: "transfer",
    ...caller,
    idempotencyKey: transaction.idempotencyKey,
    requestHash: sha256(transferRequestJson(transaction, postings)),
    postings,
    pending: transaction.pending,
    pendingTimeoutMs,
    reference: transaction.reference,
    metadata: transaction.metadata,
  };
}

export function postPendingOperation(request: PostPendingRequest, caller: Caller): ResolveOperation {
  const amounts =
    request.amounts.length === 0 ? undefined : request.amounts.map((amount, index) => parseMoney(amount, `amounts[${index}]`));
  if (amounts?.every((amount) => amount.amount === 0n)) {
    throw invalidArgument("amounts", "posting nothing is a void: give at least one positive amount, or call VoidPending");
  }
  return {
    type: "resolve",
    action: "post",
    ...caller,
    idempotencyKey: request.idempotencyKey,
    requestHash: requestHash({
      operation: "post_pending",
      pending_transaction_id: request.pendingTransactionId,
      amounts: amounts?.map((amount) => ({ currency: amount.currency, amount: amount.amount.toString() })) ?? "all",
      metadata: request.metadata,
    }),
    pendingTransactionId: request.pendingTransactionId,
    amounts: amounts?.map((amount) => amount.amount),
    amountCurrencies: amounts?.map((amount) => amount.currency),
    metadata: request.metadata,
    voidReason: "",
  };
}

export function voidPendingOperation(request: VoidPendingRequest, caller: Caller): ResolveOperation {
  return {
    type: "resolve",
    action: "void",
    ...caller,
    idempotencyKey: request.idempotencyKey,
    requestHash: requestHash({ operation: "void_pending", pending_transaction_id: request.pendingTransactionId, reason: request.reason }),
    pendingTransactionId: request.pendingTransactionId,
    amounts: undefined,
    amountCurrencies: undefined,
    metadata: {},
    voidReason: request.reason,
  };
}

/** The ledger's own expiry of a pending transaction; its key is derived from the pending id, so it happens once. */
export function expireOperation(pendingTransactionId: string): ResolveOperation {
  return {
    type: "resolve",
    action: "expire",
    scope: "ledger",
    createdBy: "ledger",
    idempotencyKey: `expire:${pendingTransactionId}`,
    requestHash: requestHash({ operation: "expire_pending", pending_transaction_id: pendingTransactionId }),
    pendingTransactionId,
    amounts: undefined,
    amountCurrencies: undefined,
    metadata: {},
    voidReason: "",
  };
}
