// Payment changes announced over Redis pub/sub (the runtime's change notices),
// so a WatchPayment stream on any replica hears what a worker on another did.
import { type ChangeNotices, createChangeNotices, type Logger } from "@trustmesh/runtime";
import type { Redis } from "ioredis";

export type PaymentEvents = ChangeNotices;

export function createPaymentEvents(redis: Redis, logger: Logger): PaymentEvents {
  return createChangeNotices(redis, logger, { channelPrefix: "payments:payment:", name: "payment-events" });
}
