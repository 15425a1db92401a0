// QuoteFee, SendPayment, GetPayment, ListPayments, WatchPayment, ReceivePayment
// and RefundPayment.
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { PaymentsService } from "@trustmesh/api";
import { PaymentKind, PaymentRole, PaymentState } from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import {
  type QuoteFeeRequest,
  QuoteFeeResponseSchema,
  ReceivePaymentRequestSchema,
  RefundPaymentRequestSchema,
  SendPaymentRequestSchema,
  type WatchPaymentResponse,
  WatchPaymentResponseSchema,
} from "@trustmesh/api/trustmesh/payments/v1/payments_service_pb.js";
import { failedPrecondition, invalidArgument } from "@trustmesh/runtime";
import { estimatedCompletionSeconds, feeFor, type PriorityName } from "../domain/fees.ts";
import { amountOf, money } from "../domain/money.ts";
import { type PaymentStateName, settledStates } from "../domain/state-machine.ts";
import { enqueueJob } from "../store/job-store.ts";
import { listPayments, loadPayment, lockPayment, newPaymentId, type PaymentWithHistory } from "../store/payment-store.ts";
import { toBigInt } from "../store/prisma.ts";
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
import { durationFromMs, feeRuleMessage, paymentMessage, priorityNames } from "./messages.ts";

type TransferHandlers = Pick<
  ServiceImpl<typeof PaymentsService>,
  "quoteFee" | "sendPayment" | "getPayment" | "listPayments" | "watchPayment" | "receivePayment" | "refundPayment"
>;

export function priorityOf(priority: number, field = "priority"): PriorityName {
  const name = priorityNames[priority as keyof typeof priorityNames];
  if (!name) throw invalidArgument(field, "must be STANDARD, EXPRESS or INSTANT");
  return name;
}

/** The fee of a payment, refused when it is above what the caller agreed to. */
export function priced(
  dependencies: HandlerDependencies,
  request: { amount?: QuoteFeeRequest["amount"]; priority: number; maxFee?: QuoteFeeRequest["amount"] },
) {
  const { currency, amountMinor } = amountOf(request.amount, "amount");
  if (amountMinor <= 0n) throw invalidArgument("amount.amount_minor", "must be greater than zero");
  const priority = priorityOf(request.priority);
  const fee = feeFor(dependencies.feeSchedule, priority, currency, amountMinor);
  if (request.maxFee) {
    const maxFee = amountOf(request.maxFee, "max_fee");
    if (maxFee.currency !== currency) throw invalidArgument("max_fee.currency", "must be the currency of amount");
    if (fee.feeMinor > maxFee.amountMinor) {
      throw failedPrecondition(
        `max_fee: the fee is ${fee.feeMinor} ${currency} minor units, above the ${maxFee.amountMinor} agreed`,
        "FEE_ABOVE_MAXIMUM",
        {
          fee_minor: fee.feeMinor.toString(),
        },
      );
    }
  }
  return { currency, amountMinor, priority, fee };
}

/** A payment the caller sent or received (or, for a refund, made). */
export async function paymentOfParty(dependencies: HandlerDependencies, paymentId: string, userId: string): Promise<PaymentWithHistory> {
  const payment = await loadPayment(dependencies.prisma, paymentId);
  if (!payment || (payment.senderUserId !== userId && payment.recipientUserId !== userId && payment.initiatorUserId !== userId)) {
    throw notYours(`payment ${paymentId}`);
  }
  return payment;
}

async function reload(dependencies: HandlerDependencies, id: string): Promise<PaymentWithHistory> {
  const payment = await loadPayment(dependencies.prisma, id);
  if (!payment) throw new Error(`payment ${id} vanished`);
  return payment;
}

export function createTransferHandlers(dependencies: HandlerDependencies): TransferHandlers {
  const { options } = dependencies;

  async function send(caller: Caller, request: Parameters<TransferHandlers["sendPayment"]>[0]) {
    const contact = contactOf(request.recipient, "recipient");
    const { currency, amountMinor, priority, fee } = priced(dependencies, request);
    if (contact.kind === "USER_ID" && contact.address === caller.userId)
      throw invalidArgument("recipient.user_id", "must not be the caller");
    checkPerTransactionLimit(dependencies, caller, currency, amountMinor);
    const recipientUserId = await dependencies.directory.resolve(contact);
    if (contact.kind === "USER_ID" && !recipientUserId)
      throw invalidArgument("recipient.user_id", "no active account has this id", "RECIPIENT_NOT_FOUND");
    if (recipientUserId === caller.userId)
      throw invalidArgument(`recipient.${contact.kind === "EMAIL" ? "email" : "phone"}`, "must not be the caller");
    const id = newPaymentId();
    const now = new Date();
    const result = await idempotently(
      dependencies,
      caller.userId,
      "SendPayment",
      SendPaymentRequestSchema,
      request,
      id,
      async (transaction) => {
        await createPayment(
          transaction,
          {
            id,
            kind: "TRANSFER",
            initiatorUserId: caller.userId,
            senderUserId: caller.userId,
            recipientUserId: recipientUserId ?? null,
            recipientKind: contact.kind,
            recipientAddress: contact.address,
            currency,
            amountMinor,
            feeMinor: fee.feeMinor,
            priority: priority.toUpperCase() as "STANDARD",
            memo: request.memo,
            claimExpiresAt: recipientUserId ? null : new Date(now.getTime() + options.claimWindowMs),
            ...limitPeriodsOf(now),
          },
          recipientUserId ? "accepted" : "accepted; the recipient has no account yet, so the payment will be claimable",
          now,
        );
        await countAgainstLimits(dependencies, transaction, caller, currency, amountMinor, now);
      },
    );
    const payment = await reload(dependencies, result.resourceId);
    if (!result.replayed) afterAccepted(dependencies, payment);
    return { payment: paymentMessage(payment), replayed: result.replayed };
  }

  return {
    async quoteFee(request) {
      const kind = request.kind;
      if (kind !== PaymentKind.TRANSFER && kind !== PaymentKind.DEPOSIT && kind !== PaymentKind.WITHDRAWAL) {
        throw invalidArgument("kind", "must be TRANSFER, DEPOSIT or WITHDRAWAL");
      }
      const { currency, amountMinor, priority, fee } = priced(dependencies, request);
      return create(QuoteFeeResponseSchema, {
        quote: {
          kind,
          priority: request.priority,
          amount: money(currency, amountMinor),
          fee: money(currency, fee.feeMinor),
          total: money(currency, amountMinor + fee.feeMinor),
          rule: feeRuleMessage(currency, fee.rule),
          estimatedCompletion: durationFromMs(estimatedCompletionSeconds[priority] * 1000),
        },
      });
    },

    async sendPayment(request, context) {
      return send(callerOf(context), request);
    },

    async getPayment(request, context) {
      const caller = callerOf(context);
      return { payment: paymentMessage(await paymentOfParty(dependencies, request.paymentId, caller.userId)) };
    },

    async listPayments(request, context) {
      const caller = callerOf(context);
      const filter = {
        userId: caller.userId,
        role:
          request.role === PaymentRole.SENDER
            ? ("SENDER" as const)
            : request.role === PaymentRole.RECIPIENT
              ? ("RECIPIENT" as const)
              : ("ANY" as const),
        kinds: request.kinds.map((kind) => PaymentKind[kind] as "TRANSFER"),
        states: request.states.map((state) => PaymentState[state] as "CREATED"),
        ...(request.currency ? { currency: request.currency } : {}),
        ...(request.startTime ? { startTime: timestampDate(request.startTime) } : {}),
        ...(request.endTime ? { endTime: timestampDate(request.endTime) } : {}),
      };
      const { page, nextPageToken } = await listPage(request, filter, (after, limit) =>
        listPayments(dependencies.prisma, filter, after, limit),
      );
      return { payments: page.map(paymentMessage), nextPageToken };
    },

    async *watchPayment(request, context: HandlerContext): AsyncGenerator<WatchPaymentResponse> {
      const caller = callerOf(context);
      let payment = await paymentOfParty(dependencies, request.paymentId, caller.userId);
      yield create(WatchPaymentResponseSchema, { payment: paymentMessage(payment) });
      if (settledStates.has(payment.state as PaymentStateName)) return;
      let wake: (() => void) | undefined;
      const unsubscribe = dependencies.events.subscribe(payment.id, () => wake?.());
      const endAt = Date.now() + options.watchMaxMs;
      try {
        while (Date.now() < endAt && !context.signal.aborted) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(options.watchPollMs, Math.max(0, endAt - Date.now())));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
            context.signal.addEventListener("abort", wake, { once: true });
          });
          wake = undefined;
          const fresh = await loadPayment(dependencies.prisma, payment.id);
          if (!fresh) return;
          if (fresh.updatedAt.getTime() !== payment.updatedAt.getTime() || fresh.history.length !== payment.history.length) {
            payment = fresh;
            yield create(WatchPaymentResponseSchema, { payment: paymentMessage(payment) });
            if (settledStates.has(payment.state as PaymentStateName)) return;
          }
        }
      } finally {
        unsubscribe();
      }
    },

    async receivePayment(request, context) {
      const caller = callerOf(context);
      const payment = await loadPayment(dependencies.prisma, request.paymentId);
      if (payment?.kind !== "TRANSFER" || !payment.recipientKind || !payment.recipientAddress)
        throw notYours(`payment ${request.paymentId}`);
      if (payment.recipientUserId !== null && payment.recipientUserId !== caller.userId) throw notYours(`payment ${request.paymentId}`);
      if (payment.recipientUserId === null) {
        // Only the owner of the address the sender used may claim, as auth knows it (verified).
        const owner = await dependencies.directory.resolve({ kind: payment.recipientKind, address: payment.recipientAddress });
        if (owner !== caller.userId) throw notYours(`payment ${request.paymentId}`);
      }
      const result = await idempotently(
        dependencies,
        caller.userId,
        "ReceivePayment",
        ReceivePaymentRequestSchema,
        request,
        payment.id,
        async (transaction) => {
          const locked = await lockPayment(transaction, payment.id);
          if (!locked) throw notYours(`payment ${request.paymentId}`);
          if (locked.recipientUserId === caller.userId) return; // Claimed before under another key.
          if (locked.state !== "AWAITING_CLAIM" && locked.state !== "PROCESSING" && locked.state !== "CREATED") {
            throw failedPrecondition(`payment_id: the payment is ${locked.state}, not awaiting a claim`, "NOT_CLAIMABLE");
          }
          if (!locked.claimExpiresAt || locked.claimExpiresAt.getTime() <= Date.now()) {
            throw failedPrecondition("payment_id: the claim window has passed; the funds go back to the sender", "CLAIM_EXPIRED");
          }
          await transaction.payment.update({ where: { id: locked.id }, data: { recipientUserId: caller.userId, updatedAt: new Date() } });
          await transaction.paymentStateChange.create({
            data: {
              paymentId: locked.id,
              fromState: locked.state,
              toState: locked.state,
              reason: "claimed by the recipient",
              changedAt: new Date(),
            },
          });
          if (locked.state === "AWAITING_CLAIM") await enqueueJob(transaction, locked.id);
        },
      );
      if (!result.replayed) {
        dependencies.events.publish(payment.id);
        dependencies.onJobQueued();
      }
      return { payment: paymentMessage(await reload(dependencies, payment.id)), replayed: result.replayed };
    },

    async refundPayment(request, context) {
      const caller = callerOf(context);
      const original = await loadPayment(dependencies.prisma, request.paymentId);
      // Only the transfer's recipient, whose wallet pays the refund, may refund it.
      if (original?.kind !== "TRANSFER" || original.recipientUserId !== caller.userId) throw notYours(`payment ${request.paymentId}`);
      let askedMinor: bigint | undefined;
      if (request.amount) {
        const asked = amountOf(request.amount, "amount");
        if (asked.currency !== original.currency)
          throw invalidArgument("amount.currency", `must be ${original.currency}, the payment's currency`);
        if (asked.amountMinor <= 0n) throw invalidArgument("amount.amount_minor", "must be greater than zero");
        askedMinor = asked.amountMinor;
      }
      const id = newPaymentId();
      const now = new Date();
      const result = await idempotently(
        dependencies,
        caller.userId,
        "RefundPayment",
        RefundPaymentRequestSchema,
        request,
        id,
        async (transaction) => {
          const locked = await lockPayment(transaction, original.id);
          if (!locked || (locked.state !== "COMPLETED" && locked.state !== "PARTIALLY_REFUNDED")) {
            throw failedPrecondition(
              `payment_id: only a completed transfer can be refunded; this one is ${locked?.state}`,
              "NOT_REFUNDABLE",
            );
          }
          const refundable = toBigInt(locked.amountMinor) - toBigInt(locked.refundReservedMinor);
          const amountMinor = askedMinor ?? refundable;
          if (refundable <= 0n)
            throw failedPrecondition("payment_id: everything paid has already been refunded or is being refunded", "NOTHING_TO_REFUND");
          if (amountMinor > refundable) {
            throw invalidArgument("amount.amount_minor", `is more than the ${refundable} minor units not yet refunded`, "REFUND_TOO_LARGE");
          }
          await transaction.payment.update({
            where: { id: locked.id },
            data: { refundReservedMinor: (toBigInt(locked.refundReservedMinor) + amountMinor).toString(), updatedAt: now },
          });
          await createPayment(
            transaction,
            {
              id,
              kind: "REFUND",
              initiatorUserId: caller.userId,
              senderUserId: caller.userId,
              recipientUserId: locked.senderUserId,
              recipientKind: "USER_ID",
              recipientAddress: locked.senderUserId,
              currency: locked.currency,
              amountMinor,
              feeMinor: 0n,
              priority: locked.priority,
              memo: request.reason,
              originalPaymentId: locked.id,
            },
            request.reason === "" ? "refund accepted" : `refund accepted: ${request.reason}`,
            now,
          );
        },
      );
      const refund = await reload(dependencies, result.resourceId);
      if (!result.replayed) afterAccepted(dependencies, refund);
      return {
        refund: paymentMessage(refund),
        original: paymentMessage(await reload(dependencies, original.id)),
        replayed: result.replayed,
      };
    },
  };
}
