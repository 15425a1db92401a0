// The payment state machine (payments.proto, PaymentState): the allowed
// transitions and no others. Every state change in the store goes through
// assertTransition, and the store's UPDATE also names the state it leaves, so
// two workers racing cannot both move a payment.
import { failedPrecondition } from "@trustmesh/runtime";

export const paymentStates = [
  "CREATED",
  "PROCESSING",
  "AWAITING_CLAIM",
  "COMPLETED",
  "FAILED",
  "EXPIRED",
  "PARTIALLY_REFUNDED",
  "REFUNDED",
] as const;
export type PaymentStateName = (typeof paymentStates)[number];

const transitions: Readonly<Record<PaymentStateName, readonly PaymentStateName[]>> = {
  CREATED: ["PROCESSING", "FAILED"],
  PROCESSING: ["COMPLETED", "FAILED", "AWAITING_CLAIM"],
  AWAITING_CLAIM: ["COMPLETED", "EXPIRED"],
  COMPLETED: ["PARTIALLY_REFUNDED", "REFUNDED"],
  PARTIALLY_REFUNDED: ["PARTIALLY_REFUNDED", "REFUNDED"],
  FAILED: [],
  EXPIRED: [],
  REFUNDED: [],
};

export function canTransition(from: PaymentStateName, to: PaymentStateName): boolean {
  return transitions[from].includes(to);
}

export function assertTransition(from: PaymentStateName, to: PaymentStateName): void {
  if (!canTransition(from, to)) {
    throw failedPrecondition(`a payment cannot go from ${from} to ${to}`, "ILLEGAL_TRANSITION", { from, to });
  }
}

/** States a WatchPayment stream ends at. */
export const settledStates: ReadonlySet<PaymentStateName> = new Set(["COMPLETED", "FAILED", "EXPIRED", "PARTIALLY_REFUNDED", "REFUNDED"]);
