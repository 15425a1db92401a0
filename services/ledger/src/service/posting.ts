// PostTransaction, PostTransactions, PostPending, VoidPending: requests become
// engine operations, go through the batch writer, and come back as committed
// (or replayed) transactions or rejections.

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type {
  PostPendingRequest,
  PostPendingResponseSchema,
  PostTransactionRequest,
  PostTransactionResponseSchema,
  PostTransactionsRequest,
  PostTransactionsResponseSchema,
  VoidPendingRequest,
  VoidPendingResponseSchema,
} from "@trustmesh/api/trustmesh/ledger/v1/ledger_service_pb.js";
import { invalidArgument, principalOf } from "@trustmesh/runtime";
import type { Outcome, ResolveOperation } from "../domain/engine.ts";
import type { TransactionKindName, TransactionRecord, TransactionView } from "../domain/records.ts";
import { loadTransactionViews } from "../store/transactions.ts";
import type { LedgerServiceDependencies } from "./dependencies.ts";
import { rejectionError } from "./rejections.ts";
import { callerOf, postPendingOperation, transferOperation, voidPendingOperation } from "./requests.ts";
import { rejectionToProto, transactionToProto } from "./to-proto.ts";

/** The transactions of replayed outcomes, read back from the database (committed ones carry their own). */
async function replayedViewsOf(
  dependencies: LedgerServiceDependencies,
  outcomes: readonly Outcome[],
): Promise<Map<string, TransactionView>> {
  const replayedIds: string[] = [];
  for (const outcome of outcomes) if (outcome.status === "replayed") replayedIds.push(outcome.transactionId);
  return replayedIds.length === 0 ? new Map() : loadTransactionViews(dependencies.pool, replayedIds);
}

/** The transaction an outcome names and, for a PENDING one, what resolved it: a committed one was just made, so nothing. */
function transactionOf(
  outcome: Outcome,
  replayed: ReadonlyMap<string, TransactionView>,
): { transaction: TransactionRecord; resolvedBy: TransactionKindName | null } {
  if (outcome.status === "committed") return { transaction: outcome.transaction, resolvedBy: null };
  if (outcome.status === "replayed") {
    const view = replayed.get(outcome.transactionId) as TransactionView;
    return { transaction: view, resolvedBy: view.resolvedBy };
  }
  throw new Error("ledger: a rejected outcome has no transaction");
}

/** A committed or replayed outcome's transaction as a message. */
function outcomeToProto(outcome: Outcome, replayed: ReadonlyMap<string, TransactionView>) {
  const { transaction, resolvedBy } = transactionOf(outcome, replayed);
  return transactionToProto(transaction, resolvedBy);
}

export function createPostingHandlers(dependencies: LedgerServiceDependencies) {
  /** Submits one resolve operation and returns the resolution and the pending transaction it resolved. */
  const resolve = async (operation: ResolveOperation, context: HandlerContext) => {
    const result = await dependencies.writer.submit({ operations: [operation], atomic: false }, context.signal);
    const outcome = result.outcomes[0] as Outcome;
    if (outcome.status === "rejected") throw rejectionError(outcome.rejection);
    const { transaction, resolvedBy } = transactionOf(outcome, await replayedViewsOf(dependencies, [outcome]));
    const pendingId = transaction.pendingTransactionId;
    if (pendingId === null) {
      // The key was first used for something else with an equal request hash; impossible unless hashes collide.
      throw new Error(`ledger: replayed transaction ${transaction.id} resolves no pending transaction`);
    }
    const pending: TransactionView =
      outcome.status === "committed"
        ? { ...(result.pendings.get(pendingId) as TransactionRecord), resolvedBy: transaction.kind as TransactionKindName }
        : ((await loadTransactionViews(dependencies.pool, [pendingId])).get(pendingId) as TransactionView);
    return {
      transaction: transactionToProto(transaction, resolvedBy),
      pendingTransaction: transactionToProto(pending, pending.resolvedBy),
      replayed: outcome.status === "replayed",
    };
  };

  return {
    async postTransaction(
      request: PostTransactionRequest,
      context: HandlerContext,
    ): Promise<MessageInitShape<typeof PostTransactionResponseSchema>> {
      if (request.transaction === undefined) throw invalidArgument("transaction", "is required");
      const operation = transferOperation(request.transaction, callerOf(principalOf(context)), "transaction");
      const result = await dependencies.writer.submit({ operations: [operation], atomic: false }, context.signal);
      const outcome = result.outcomes[0] as Outcome;
      if (outcome.status === "rejected") {
        throw rejectionError(outcome.rejection, { transactionField: "transaction", postings: operation.postings });
      }
      return {
        transaction: outcomeToProto(outcome, await replayedViewsOf(dependencies, [outcome])),
        replayed: outcome.status === "replayed",
      };
    },

    async postTransactions(
      request: PostTransactionsRequest,
      context: HandlerContext,
    ): Promise<MessageInitShape<typeof PostTransactionsResponseSchema>> {
      const caller = callerOf(principalOf(context));
      const keys = new Set<string>();
      const operations = request.transactions.map((transaction, index) => {
        // The contract's rule says so too; a duplicate inside one request would be a replay of itself.
        if (keys.has(transaction.idempotencyKey)) {
          throw invalidArgument(`transactions[${index}].idempotency_key`, "idempotency keys must be unique within a batch");
        }
        keys.add(transaction.idempotencyKey);
        return transferOperation(transaction, caller, `transactions[${index}]`);
      });
      const result = await dependencies.writer.submit({ operations, atomic: request.atomic }, context.signal);
      const replayed = await replayedViewsOf(dependencies, result.outcomes);
      return {
        results: result.outcomes.map((outcome, index) =>
          outcome.status === "rejected"
            ? { index, outcome: { case: "rejection" as const, value: rejectionToProto(outcome.rejection) } }
            : {
                index,
                outcome: { case: "transaction" as const, value: outcomeToProto(outcome, replayed) },
                replayed: outcome.status === "replayed",
              },
        ),
      };
    },

    postPending: (request: PostPendingRequest, context: HandlerContext): Promise<MessageInitShape<typeof PostPendingResponseSchema>> =>
      resolve(postPendingOperation(request, callerOf(principalOf(context))), context),

    voidPending: (request: VoidPendingRequest, context: HandlerContext): Promise<MessageInitShape<typeof VoidPendingResponseSchema>> =>
      resolve(voidPendingOperation(request, callerOf(principalOf(context))), context),
  };
}
