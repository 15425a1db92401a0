// Payment changes announced over Redis pub/sub, so a WatchPayment stream on any
// replica hears what a worker on another did. A notice carries only the
// payment id: the stream re-reads Postgres, the only source of truth, and also
// polls, so a lost notice or a Redis outage only delays an update.
import type { Logger } from "@trustmesh/runtime";
import type { Redis } from "ioredis";

const channelPrefix = "payments:payment:";

export interface PaymentEvents {
  publish(paymentId: string): void;
  /** Calls `listener` on each notice for the payment until the returned function is called. */
  subscribe(paymentId: string, listener: () => void): () => void;
  close(): Promise<void>;
}

export function createPaymentEvents(redis: Redis, logger: Logger): PaymentEvents {
  // Subscribing takes a connection over, so subscriptions get their own.
  const subscriber = redis.duplicate({ lazyConnect: false, enableOfflineQueue: true });
  subscriber.on("error", (error) => logger.warn({ err: error.message }, "payment-events subscriber error"));
  const listeners = new Map<string, Set<() => void>>();
  subscriber.on("message", (channel: string) => {
    for (const listener of listeners.get(channel) ?? []) listener();
  });
  return {
    publish(paymentId) {
      redis
        .publish(channelPrefix + paymentId, "changed")
        .catch((error: Error) => logger.warn({ err: error.message }, "payment-events publish failed"));
    },
    subscribe(paymentId, listener) {
      const channel = channelPrefix + paymentId;
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        subscriber.subscribe(channel).catch((error: Error) => logger.warn({ err: error.message }, "payment-events subscribe failed"));
      }
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size > 0) return;
        listeners.delete(channel);
        subscriber.unsubscribe(channel).catch(() => {});
      };
    },
    async close() {
      listeners.clear();
      subscriber.disconnect();
    },
  };
}
