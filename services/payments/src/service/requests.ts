// RequestPayment, PayRequest, DeclineRequest, CancelRequest and ListRequests.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { PaymentsService } from "@trustmesh/api";
import { PaymentRequestState, RequestRole } from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import { PayRequestRequestSchema, RequestPaymentRequestSchema } from "@trustmesh/api/trustmesh/payments/v1/payments_service_pb.js";
import { failedPrecondition, invalidArgument } from "@trustmesh/runtime";
import { amountOf, type Currency } from "../domain/money.ts";
import { loadPayment, newPaymentId } from "../store/payment-store.ts";
import { findRequest, insertRequest, listRequests, lockRequest, type RequestRow, updateRequest } from "../store/request-store.ts";
import {
  afterAccepted,
  type Caller,
  callerOf,
  checkPerTransactionLimit,
  contactOf,
  countAgainstLimits,
  createPayment,
  type HandlerDependencies,
  idempotently,
  limitPeriodsOf,
  listPage,
  notYours,
} from "./context.ts";
import { paymentMessage, requestMessage } from "./messages.ts";
import { priced } from "./transfers.ts";

type RequestHandlers = Pick<
  ServiceImpl<typeof PaymentsService>,
  "requestPayment" | "payRequest" | "declineRequest" | "cancelRequest" | "listRequests"
>;

/** Whether the caller is the request's payer: by id once known, else by the address auth resolves to them. */
async function isPayer(dependencies: HandlerDependencies, request: RequestRow, caller: Caller): Promise<boolean> {
  if (request.payerUserId) return request.payerUserId === caller.userId;
  return (await dependencies.directory.resolve({ kind: request.payerKind, address: request.payerAddress })) === caller.userId;
}

export function createRequestHandlers(dependencies: HandlerDependencies): RequestHandlers {
  async function requestOfPayer(requestId: string, caller: Caller): Promise<RequestRow> {
    const request = await findRequest(dependencies.prisma, requestId);
    if (!request || !(await isPayer(dependencies, request, caller))) throw notYours(`request ${requestId}`);
    return request;
  }

  return {
    async requestPayment(request, context) {
      const caller = callerOf(context);
      const payer = contactOf(request.payer, "payer");
      const { currency, amountMinor } = amountOf(request.amount, "amount");
      if (amountMinor <= 0n) throw invalidArgument("amount.amount_minor", "must be greater than zero");
      if (payer.kind === "USER_ID" && payer.address === caller.userId) throw invalidArgument("payer.user_id", "must not be the caller");
      const payerUserId = await dependencies.directory.resolve(payer);
      if (payer.kind === "USER_ID" && !payerUserId)
        throw invalidArgument("payer.user_id", "no active account has this id", "PAYER_NOT_FOUND");
      if (payerUserId === caller.userId)
        throw invalidArgument(`payer.${payer.kind === "EMAIL" ? "email" : "phone"}`, "must not be the caller");
      const now = new Date();
      const expiresAt = request.expiresAt
        ? timestampDate(request.expiresAt)
        : new Date(now.getTime() + dependencies.options.requestDefaultTtlMs);
      if (expiresAt.getTime() <= now.getTime()) throw invalidArgument("expires_at", "must be in the future");
      const id = newPaymentId();
      const result = await idempotently(
        dependencies,
        caller.userId,
        "RequestPayment",
        RequestPaymentRequestSchema,
        request,
        id,
        async (transaction) => {
          await insertRequest(transaction, {
            id,
            state: "OPEN",
            requesterUserId: caller.userId,
            payerKind: payer.kind,
            payerAddress: payer.address,
            payerUserId: payerUserId ?? null,
            currency,
            amountMinor: amountMinor.toString(),
            memo: request.memo,
            expiresAt,
            createdAt: now,
            updatedAt: now,
          });
        },
      );
      const stored = await findRequest(dependencies.prisma, result.resourceId);
      if (!stored) throw new Error(`request ${result.resourceId} vanished`);
      return { request: requestMessage(stored), replayed: result.replayed };
    },

    async payRequest(request, context) {
      const caller = callerOf(context);
      const found = await requestOfPayer(request.requestId, caller);
      const currency = found.currency as Currency;
      // Checked before pricing: PayRequest has no amount field, so priced()'s own
      // "must be the currency of amount" would name a field the caller never sent.
      if (request.maxFee && request.maxFee.currency !== currency)
        throw invalidArgument("max_fee.currency", `must be ${currency}, the request's currency`);
      const { amountMinor, priority, fee } = priced(dependencies, {
        amount: { $typeName: "trustmesh.type.v1.Money", currency, amountMinor: found.amountMinor.toFixed() },
        priority: request.priority,
        ...(request.maxFee ? { maxFee: request.maxFee } : {}),
      });
      checkPerTransactionLimit(dependencies, caller, currency, amountMinor);
      const id = newPaymentId();
      const now = new Date();
      const result = await idempotently(
        dependencies,
        caller.userId,
        "PayRequest",
        PayRequestRequestSchema,
        request,
        id,
        async (transaction) => {
          const locked = await lockRequest(transaction, found.id);
          if (locked?.state !== "OPEN")
            throw failedPrecondition(`request_id: the request is ${locked?.state}, not OPEN`, "REQUEST_NOT_OPEN");
          if (locked.paymentId)
            throw failedPrecondition("request_id: a payment of this request is already in flight", "REQUEST_PAYMENT_IN_FLIGHT");
          if (locked.expiresAt.getTime() <= now.getTime())
            throw failedPrecondition("request_id: the request has expired", "REQUEST_EXPIRED");
          await createPayment(
            transaction,
            {
              id,
              kind: "TRANSFER",
              initiatorUserId: caller.userId,
              senderUserId: caller.userId,
              recipientUserId: locked.requesterUserId,
              recipientKind: "USER_ID",
              recipientAddress: locked.requesterUserId,
              currency,
              amountMinor,
              feeMinor: fee.feeMinor,
              priority: priority.toUpperCase() as "STANDARD",
              memo: locked.memo,
              requestId: locked.id,
              ...limitPeriodsOf(now),
            },
            "accepted to pay a request",
            now,
          );
          await transaction.paymentRequest.update({
            where: { id: locked.id },
            data: { paymentId: id, payerUserId: caller.userId, updatedAt: now },
          });
          await countAgainstLimits(dependencies, transaction, caller, currency, amountMinor, now);
        },
      );
      const payment = await loadPayment(dependencies.prisma, result.resourceId);
      const paid = payment?.requestId ? await findRequest(dependencies.prisma, payment.requestId) : null;
      if (!payment || !paid) throw new Error(`payment ${result.resourceId} or its request vanished`);
      if (!result.replayed) afterAccepted(dependencies, payment);
      return { payment: paymentMessage(payment), request: requestMessage(paid), replayed: result.replayed };
    },

    async declineRequest(request, context) {
      const caller = callerOf(context);
      const found = await requestOfPayer(request.requestId, caller);
      if (found.state === "DECLINED") return { request: requestMessage(found) };
      if (found.state !== "OPEN" || found.paymentId)
        throw failedPrecondition(`request_id: the request is ${found.paymentId ? "being paid" : found.state}`, "REQUEST_NOT_OPEN");
      const updated = await dependencies.prisma.paymentRequest.updateMany({
        where: { id: found.id, state: "OPEN", paymentId: null },
        data: { state: "DECLINED", declineReason: request.reason, payerUserId: caller.userId, updatedAt: new Date() },
      });
      if (updated.count !== 1) throw failedPrecondition("request_id: the request changed; read it again", "REQUEST_NOT_OPEN");
      return { request: requestMessage((await findRequest(dependencies.prisma, found.id)) as RequestRow) };
    },

    async cancelRequest(request, context) {
      const caller = callerOf(context);
      const found = await findRequest(dependencies.prisma, request.requestId);
      if (!found || found.requesterUserId !== caller.userId) throw notYours(`request ${request.requestId}`);
      if (found.state === "CANCELED") return { request: requestMessage(found) };
      if (found.state !== "OPEN" || found.paymentId)
        throw failedPrecondition(`request_id: the request is ${found.paymentId ? "being paid" : found.state}`, "REQUEST_NOT_OPEN");
      const updated = await dependencies.prisma.paymentRequest.updateMany({
        where: { id: found.id, state: "OPEN", paymentId: null },
        data: { state: "CANCELED", updatedAt: new Date() },
      });
      if (updated.count !== 1) throw failedPrecondition("request_id: the request changed; read it again", "REQUEST_NOT_OPEN");
      return { request: requestMessage(await updateRequest(dependencies.prisma, found.id, {})) };
    },

    async listRequests(request, context) {
      const caller = callerOf(context);
      const filter = {
        role:
          request.role === RequestRole.REQUESTER
            ? ("REQUESTER" as const)
            : request.role === RequestRole.PAYER
              ? ("PAYER" as const)
              : ("ANY" as const),
        states: request.states.map((state) => PaymentRequestState[state] as "OPEN"),
      };
      const { page, nextPageToken } = await listPage(request, filter, (after, limit) =>
        listRequests(dependencies.prisma, caller.userId, filter, after, limit),
      );
      return { requests: page.map(requestMessage), nextPageToken };
    },
  };
}
