// The payment workflow: moves one payment one step at a time through the state
// machine, calling the ledger and the rail with keys derived from the payment
// id. Each step is safe to run again after a crash at any point: a ledger call
// replays under its key, a rail call under the payment id, and the state change
// that records it names the state it leaves. The worker runs `advance` for each
// claimed job; this module knows nothing of queues or leases.
import type { Logger } from "@trustmesh/runtime";
import { type Currency, majorUnitsForMetrics } from "../domain/money.ts";
import type { PaymentStateName } from "../domain/state-machine.ts";
import { type LedgerGateway, LedgerRejection, stepKey } from "../ledger/ledger-gateway.ts";
import type { PaymentEvents } from "../payment-events.ts";
import type { PaymentsMetrics } from "../payments-metrics.ts";
import type { PaymentRail } from "../rails/payment-rail.ts";
import { findMethod } from "../store/method-store.ts";
import { loadPayment, lockPayment, type PaymentRow, recordProgress, releaseLimitUsage, transition } from "../store/payment-store.ts";
import { type Prisma, type Transaction, toBigInt, transactionOptions } from "../store/prisma.ts";
import { reservationPostings } from "./postings.ts";

export type FailureReasonName = "INSUFFICIENT_FUNDS" | "RAIL_DECLINED" | "RAIL_FAILED" | "METHOD_UNAVAILABLE" | "RETRIES_EXHAUSTED";

/** What the worker does with the job after a run. */
export type RunOutcome = { next: "done" } | { next: "wait" } | { next: "later"; delayMs: number };

export interface ProcessorOptions {
  /** Pending timeout of transfers' and refunds' reservations. */
  transferReservationMs: number;
  /** Pending timeout of deposits' and withdrawals' reservations, which wait for the rail. */
  railReservationMs: number;
  /** Extra time a claimable payment's reservation outlives its claim window, so payments expires it, not the ledger. */
  claimReservationGraceMs: number;
  /** How long to wait before asking the rail again about a pending submission. */
  railPollMs: number;
}

export interface ProcessorDependencies {
  prisma: Prisma;
  ledger: LedgerGateway;
  rails: ReadonlyMap<string, PaymentRail>;
  metrics: PaymentsMetrics;
  events: PaymentEvents;
  logger: Logger;
}

export interface PaymentProcessor {
  /** Runs steps until the payment waits, finishes, or must be looked at again later. */
  advance(paymentId: string): Promise<RunOutcome>;
}

/** Steps one run takes at most; a transfer needs three. */
const stepsPerRunMax = 8;

const kindLabel = (payment: PaymentRow) => payment.kind.toLowerCase();

export function createPaymentProcessor(options: ProcessorOptions, dependencies: ProcessorDependencies): PaymentProcessor {
  const { prisma, ledger, metrics, events } = dependencies;

  /** After a committed change: metrics and the Watch notice. */
  function changed(payment: PaymentRow, to: PaymentStateName): void {
    metrics.payments.inc({ state: to, currency: payment.currency });
    if (to === "COMPLETED" || to === "FAILED" || to === "EXPIRED") {
      metrics.processingDuration.observe(
        { kind: kindLabel(payment), outcome: to.toLowerCase() },
        (Date.now() - payment.createdAt.getTime()) / 1000,
      );
    }
    if (to === "COMPLETED") {
      metrics.amount.inc(
        { kind: kindLabel(payment), currency: payment.currency },
        majorUnitsForMetrics(payment.currency as Currency, toBigInt(payment.amountMinor)),
      );
    }
    events.publish(payment.id);
  }

  async function inTransaction<T>(work: (transaction: Transaction) => Promise<T>): Promise<T> {
    return prisma.$transaction(work, transactionOptions);
  }

  /** Ends a payment FAILED: gives back its limit usage, its refund reservation and its request. */
  async function fail(payment: PaymentRow, reason: FailureReasonName, message: string, ledgerTransactionId?: string): Promise<RunOutcome> {
    const moved = await inTransaction(async (transaction) => {
      const locked = await lockPayment(transaction, payment.id);
      if (!locked || locked.state !== payment.state) return false;
      await transition(transaction, payment.id, locked.state as PaymentStateName, "FAILED", message, {
        failureReason: reason,
        failureMessage: message.slice(0, 500),
        ...(ledgerTransactionId ? { ledgerTransactionIds: [...locked.ledgerTransactionIds, ledgerTransactionId] } : {}),
      });
      await releaseLimitUsage(transaction, locked);
      if (locked.kind === "REFUND" && locked.originalPaymentId) {
        await transaction.$executeRaw`
          UPDATE "payment" SET "refund_reserved_minor" = "refund_reserved_minor" - ${locked.amountMinor.toFixed()}::numeric, "updated_at" = now()
          WHERE "id" = ${locked.originalPaymentId}::uuid`;
      }
      if (locked.requestId) {
        // The request can be paid again.
        await transaction.paymentRequest.updateMany({
          where: { id: locked.requestId, paymentId: locked.id, state: "OPEN" },
          data: { paymentId: null, updatedAt: new Date() },
        });
      }
      return true;
    });
    if (!moved) return { next: "done" };
    changed(payment, "FAILED");
    dependencies.logger.info({ payment_id: payment.id, reason }, "payment failed");
    return { next: "done" };
  }

  /** Ends a payment COMPLETED, with what completing it means for its request or the refunded transfer. */
  async function complete(
    payment: PaymentRow,
    ledgerTransactionIds: string[],
    reason: string,
    extra: { recipientUserId?: string } = {},
  ): Promise<RunOutcome> {
    let original: PaymentRow | undefined;
    let originalTo: PaymentStateName | undefined;
    const moved = await inTransaction(async (transaction) => {
      const locked = await lockPayment(transaction, payment.id);
      if (!locked || locked.state !== payment.state) return false;
      await transition(transaction, payment.id, locked.state as PaymentStateName, "COMPLETED", reason, {
        ledgerTransactionIds: [...locked.ledgerTransactionIds, ...ledgerTransactionIds],
        ...extra,
      });
      if (locked.requestId) {
        await transaction.paymentRequest.updateMany({
          where: { id: locked.requestId, paymentId: locked.id },
          data: { state: "PAID", updatedAt: new Date() },
        });
      }
      if (locked.kind === "REFUND" && locked.originalPaymentId) {
        const refunded = await lockPayment(transaction, locked.originalPaymentId);
        if (!refunded) throw new Error(`refund ${locked.id} names a missing payment`);
        const total = toBigInt(refunded.refundedMinor) + toBigInt(locked.amountMinor);
        originalTo = total === toBigInt(refunded.amountMinor) ? "REFUNDED" : "PARTIALLY_REFUNDED";
        await transition(
          transaction,
          refunded.id,
          refunded.state as PaymentStateName,
          originalTo,
          `refund ${locked.id} returned ${locked.amountMinor.toFixed()} ${locked.currency}`,
          {
            refundedMinor: total.toString(),
          },
        );
        original = refunded;
      }
      return true;
    });
    if (!moved) return { next: "done" };
    changed(payment, "COMPLETED");
    if (original && originalTo) changed(original, originalTo);
    return { next: "done" };
  }

  /** Posts the reservation; a reservation that lapsed or was released ends the payment instead. */
  async function post(payment: PaymentRow): Promise<string | RunOutcome> {
    const pendingId = payment.pendingTransactionId ?? "";
    try {
      return (await ledger.postPending(pendingId, stepKey(payment.id, "post"))).transactionId;
    } catch (error) {
      if (!(error instanceof LedgerRejection)) throw error;
      if (payment.state === "AWAITING_CLAIM" && (error.reason === "PENDING_EXPIRED" || error.reason === "PENDING_ALREADY_VOIDED")) {
        return expire(payment, "the held funds were released before the claim was processed");
      }
      return fail(payment, "RETRIES_EXHAUSTED", `the ledger refused to post the reservation: ${error.reason}`);
    }
  }

  /** Releases the reservation; true when it was released (now or before), false when it had been posted. */
  async function release(payment: PaymentRow, reason: string): Promise<{ released: true; transactionId?: string } | { released: false }> {
    if (!payment.pendingTransactionId) return { released: true };
    try {
      return {
        released: true,
        transactionId: (await ledger.voidPending(payment.pendingTransactionId, stepKey(payment.id, "void"), reason)).transactionId,
      };
    } catch (error) {
      if (!(error instanceof LedgerRejection)) throw error;
      if (error.reason === "PENDING_ALREADY_VOIDED" || error.reason === "PENDING_EXPIRED") return { released: true };
      if (error.reason === "PENDING_ALREADY_POSTED") return { released: false };
      throw error;
    }
  }

  async function expire(payment: PaymentRow, reason: string): Promise<RunOutcome> {
    const released = await release(payment, "claim window passed");
    if (!released.released) throw new Error(`claimable payment ${payment.id} was posted but never claimed`);
    const moved = await inTransaction(async (transaction) => {
      const locked = await lockPayment(transaction, payment.id);
      if (locked?.state !== "AWAITING_CLAIM" || locked.recipientUserId) return false;
      await transition(transaction, payment.id, "AWAITING_CLAIM", "EXPIRED", reason, {
        ...(released.transactionId ? { ledgerTransactionIds: [...locked.ledgerTransactionIds, released.transactionId] } : {}),
      });
      await releaseLimitUsage(transaction, locked);
      return true;
    });
    if (moved) changed(payment, "EXPIRED");
    return { next: "done" };
  }

  function reservationTimeoutMs(payment: PaymentRow): number {
    if (payment.kind === "DEPOSIT" || payment.kind === "WITHDRAWAL") return options.railReservationMs;
    if (payment.claimExpiresAt) return Math.max(1000, payment.claimExpiresAt.getTime() - Date.now() + options.claimReservationGraceMs);
    return options.transferReservationMs;
  }

  /** CREATED → PROCESSING with the money reserved, or FAILED. */
  async function reserve(payment: PaymentRow): Promise<RunOutcome | undefined> {
    if (payment.kind === "DEPOSIT" || payment.kind === "WITHDRAWAL") {
      const method = payment.paymentMethodId ? await findMethod(prisma, payment.paymentMethodId) : null;
      if (!method || method.removedAt)
        return fail(payment, "METHOD_UNAVAILABLE", "the payment method was removed before the payment was processed");
    }
    let transactionId: string;
    try {
      const postings = await reservationPostings(ledger, payment);
      ({ transactionId } = await ledger.reserve(
        { idempotencyKey: stepKey(payment.id, "reserve"), reference: payment.id, postings, metadata: { kind: kindLabel(payment) } },
        reservationTimeoutMs(payment),
      ));
    } catch (error) {
      if (!(error instanceof LedgerRejection)) throw error;
      if (error.reason === "INSUFFICIENT_FUNDS")
        return fail(payment, "INSUFFICIENT_FUNDS", "the wallet did not hold the amount plus the fee");
      return fail(payment, "RETRIES_EXHAUSTED", `the ledger refused the reservation: ${error.reason}`);
    }
    if (payment.abandonRequested) {
      // Processing gave up: the reservation just made (or replayed) is released at once.
      const released = await release({ ...payment, pendingTransactionId: transactionId }, "processing gave up");
      if (!released.released) throw new Error(`payment ${payment.id} was posted while being abandoned`);
      return fail(payment, "RETRIES_EXHAUSTED", "processing kept failing and its retries ran out", released.transactionId);
    }
    const moved = await inTransaction(async (transaction) => {
      const locked = await lockPayment(transaction, payment.id);
      if (locked?.state !== "CREATED") return false;
      await transition(transaction, payment.id, "CREATED", "PROCESSING", "funds reserved in the ledger", {
        pendingTransactionId: transactionId,
        ledgerTransactionIds: [transactionId],
      });
      return true;
    });
    if (moved) changed(payment, "PROCESSING");
    return undefined;
  }

  /** A deposit or withdrawal in PROCESSING: submit to the rail, then follow it to the end. */
  async function followRail(payment: PaymentRow): Promise<RunOutcome | undefined> {
    const method = payment.paymentMethodId ? await findMethod(prisma, payment.paymentMethodId) : null;
    const rail = method ? dependencies.rails.get(method.rail) : undefined;
    if (!method || !rail) throw new Error(`payment ${payment.id} has no usable rail`);
    if (!payment.railReference) {
      const request = {
        idempotencyKey: payment.id,
        token: method.railToken,
        currency: payment.currency,
        amountMinor: toBigInt(payment.amountMinor),
      };
      // A deposit charges the method amount + fee; a withdrawal pays out the amount.
      const submission =
        payment.kind === "DEPOSIT"
          ? await rail.charge({ ...request, amountMinor: request.amountMinor + toBigInt(payment.feeMinor) })
          : await rail.payout(request);
      if (submission.outcome === "declined") {
        const released = await release(payment, "the rail declined");
        if (!released.released) throw new Error(`payment ${payment.id} was posted before the rail answered`);
        return fail(payment, "RAIL_DECLINED", submission.message, released.transactionId);
      }
      await recordProgress(prisma, payment.id, "PROCESSING", { railReference: submission.reference });
      events.publish(payment.id);
      return undefined;
    }
    const status = await rail.status(payment.railReference);
    if (status === "pending") return { next: "later", delayMs: options.railPollMs };
    if (status === "failed") {
      const released = await release(payment, "the rail reported the payment failed");
      if (!released.released) throw new Error(`payment ${payment.id} was posted before the rail failed it`);
      return fail(payment, "RAIL_FAILED", "the rail accepted the payment and then reported it failed", released.transactionId);
    }
    const posted = await post(payment);
    if (typeof posted !== "string") return posted;
    return complete(payment, [posted], "the rail settled the payment");
  }

  async function step(payment: PaymentRow): Promise<RunOutcome | undefined> {
    switch (payment.state) {
      case "CREATED":
        return reserve(payment);
      case "PROCESSING": {
        if (payment.kind === "DEPOSIT" || payment.kind === "WITHDRAWAL") return followRail(payment);
        if (payment.abandonRequested) {
          const released = await release(payment, "processing gave up");
          if (released.released)
            return fail(payment, "RETRIES_EXHAUSTED", "processing kept failing and its retries ran out", released.transactionId);
        }
        if (payment.kind === "TRANSFER" && !payment.recipientUserId) {
          await inTransaction(async (transaction) => {
            await transition(transaction, payment.id, "PROCESSING", "AWAITING_CLAIM", "funds held until the recipient claims them");
          });
          changed(payment, "AWAITING_CLAIM");
          return { next: "wait" };
        }
        const posted = await post(payment);
        if (typeof posted !== "string") return posted;
        return complete(payment, [posted], "posted in the ledger");
      }
      case "AWAITING_CLAIM": {
        if (payment.recipientUserId) {
          const posted = await post(payment);
          if (typeof posted !== "string") return posted;
          const clearing = await ledger.systemAccountId("clearing", payment.currency);
          const wallet = await ledger.walletAccountId(payment.recipientUserId, payment.currency);
          const claim = await ledger.transfer({
            idempotencyKey: stepKey(payment.id, "claim"),
            reference: payment.id,
            postings: [
              { debitAccountId: clearing, creditAccountId: wallet, currency: payment.currency, amountMinor: toBigInt(payment.amountMinor) },
            ],
            metadata: { kind: "claim" },
          });
          return complete(payment, [posted, claim.transactionId], "claimed by the recipient");
        }
        if (payment.claimExpiresAt && payment.claimExpiresAt.getTime() <= Date.now()) {
          return expire(payment, "not claimed in time; the funds went back to the sender");
        }
        return { next: "wait" };
      }
      default:
        return { next: "done" };
    }
  }

  return {
    async advance(paymentId) {
      for (let steps = 0; steps < stepsPerRunMax; steps++) {
        const payment = await loadPayment(prisma, paymentId);
        if (!payment) return { next: "done" };
        const outcome = await step(payment);
        if (outcome) return outcome;
      }
      return { next: "later", delayMs: 0 };
    },
  };
}
