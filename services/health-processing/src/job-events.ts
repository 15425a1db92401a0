// Job changes announced over Redis pub/sub, so WatchJob streams on any replica
// hear what a worker on another one did. A notice carries only the job id: the
// stream re-reads the job from Postgres, which stays the only source of truth,
// and streams also poll, so a lost notice or a Redis outage only delays updates.

import type { Logger } from "@trustmesh/runtime";
import type { Redis } from "ioredis";

const channelPrefix = "healthprocessing:job:";

export interface JobEvents {
  publish(jobId: string): void;
  /** Calls `listener` on each notice for the job until the returned function is called. */
  subscribe(jobId: string, listener: () => void): () => void;
  close(): Promise<void>;
}

export function createJobEvents(redis: Redis, logger: Logger): JobEvents {
  // Subscribing takes a connection over, so subscriptions get their own.
  const subscriber = redis.duplicate({ lazyConnect: false, enableOfflineQueue: true });
  subscriber.on("error", (error) => logger.warn({ err: error.message }, "job-events subscriber error"));
  const listeners = new Map<string, Set<() => void>>();
  subscriber.on("message", (channel: string) => {
    for (const listener of listeners.get(channel) ?? []) listener();
  });
  return {
    publish(jobId) {
      redis
        .publish(channelPrefix + jobId, "changed")
        .catch((error: Error) => logger.warn({ err: error.message }, "job-events publish failed"));
    },
    subscribe(jobId, listener) {
      const channel = channelPrefix + jobId;
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        subscriber.subscribe(channel).catch((error: Error) => logger.warn({ err: error.message }, "job-events subscribe failed"));
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
