// Change notices over Redis pub/sub, so a watch stream on any replica hears what
// a worker on another one did to a record. A notice carries only the record id:
// the stream re-reads Postgres, which stays the only source of truth, and
// streams also poll, so a lost notice or a Redis outage only delays an update.
// Payments (WatchPayment) and health-processing (WatchJob) share this.
import type { Redis } from "ioredis";
import type { Logger } from "./logger.ts";

export interface ChangeNotices {
  /** Announces that the record changed; failures are logged, never thrown. */
  publish(id: string): void;
  /** Calls `listener` on each notice for the record until the returned function is called. */
  subscribe(id: string, listener: () => void): () => void;
  close(): Promise<void>;
}

export interface ChangeNoticesOptions {
  /** Prefix of the channel names, one channel per record, e.g. "payments:payment:". */
  channelPrefix: string;
  /** Names the notices in log lines, e.g. "payment-events". */
  name: string;
}

export function createChangeNotices(redis: Redis, logger: Logger, options: ChangeNoticesOptions): ChangeNotices {
  const { channelPrefix, name } = options;
  // Subscribing takes a connection over, so subscriptions get their own.
  const subscriber = redis.duplicate({ lazyConnect: false, enableOfflineQueue: true });
  subscriber.on("error", (error) => logger.warn({ err: error.message }, `${name} subscriber error`));
  const listeners = new Map<string, Set<() => void>>();
  subscriber.on("message", (channel: string) => {
    for (const listener of listeners.get(channel) ?? []) listener();
  });
  return {
    publish(id) {
      redis.publish(channelPrefix + id, "changed").catch((error: Error) => logger.warn({ err: error.message }, `${name} publish failed`));
    },
    subscribe(id, listener) {
      const channel = channelPrefix + id;
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        subscriber.subscribe(channel).catch((error: Error) => logger.warn({ err: error.message }, `${name} subscribe failed`));
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
