// Hands outbox events on, in the background: the second half of the
// transactional outbox (DESIGN.md §4). An event was committed with the change
// that caused it; this loop claims due events in bounded batches, delivers
// each, and marks it delivered only after the delivery succeeded. A failed
// delivery is tried again after a backoff that doubles up to a cap; a worker
// that dies mid-delivery leaves its claim to expire, and the event is
// delivered again. Delivery is therefore at least once, and the receiver
// deduplicates by the event's id.
import type { Logger } from "@trustmesh/runtime";
import type { AuthStore, ClaimedOutboxEvent } from "./store.ts";

export type OutboxStore = Pick<AuthStore, "claimOutboxEvents" | "markOutboxDelivered" | "releaseOutboxEvent">;

export interface OutboxWorkerOptions {
  store: OutboxStore;
  topic: string;
  /** Delivers one event; resolves only once the receiver has accepted it. Must honour `signal`. */
  deliver(event: ClaimedOutboxEvent, signal: AbortSignal): Promise<void>;
  logger: Logger;
  /** Events claimed (and delivered in parallel) at once. */
  batchSizeMax?: number;
  /** How long the loop rests when there was less than a full batch to do. */
  pollIntervalMs?: number;
  /** How long a claim holds an event; longer than a delivery may take, or a slow one is sent twice. */
  leaseMs?: number;
  /** The first retry waits about this long; each further one twice as long as the last ... */
  retryBaseMs?: number;
  /** ... up to this. */
  retryMaxMs?: number;
  onResult?(outcome: "delivered" | "failed"): void;
}

export interface OutboxWorker {
  start(): void;
  /** Stops claiming, cancels deliveries in flight (their events are due again at once), and waits for the loop to end. */
  stop(): Promise<void>;
}

export const outboxDefaults = {
  batchSizeMax: 20,
  pollIntervalMs: 1000,
  leaseMs: 60_000,
  retryBaseMs: 1000,
  retryMaxMs: 5 * 60_000,
};

/**
 * The wait before attempt `attempts + 1`: base × 2^(attempts − 1), capped,
 * then drawn from its upper half so replicas that failed together do not
 * retry in step.
 */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export function createOutboxWorker(options: OutboxWorkerOptions): OutboxWorker {
  const settings = {
    batchSizeMax: options.batchSizeMax ?? outboxDefaults.batchSizeMax,
    pollIntervalMs: options.pollIntervalMs ?? outboxDefaults.pollIntervalMs,
    leaseMs: options.leaseMs ?? outboxDefaults.leaseMs,
    retryBaseMs: options.retryBaseMs ?? outboxDefaults.retryBaseMs,
    retryMaxMs: options.retryMaxMs ?? outboxDefaults.retryMaxMs,
  };
  const { store, topic, logger } = options;
  const inFlight = new AbortController();
  let stopping = false;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  const rest = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function handle(event: ClaimedOutboxEvent): Promise<void> {
    try {
      await options.deliver(event, inFlight.signal);
    } catch (error) {
      // Cut short by stopping: due again at once, for the next start or another replica.
      const delayMs = stopping ? 0 : retryDelayMs(event.attempts, settings.retryBaseMs, settings.retryMaxMs);
      logger.warn({ err: error, topic, eventId: String(event.id), attempts: event.attempts, retryInMs: delayMs }, "outbox delivery failed");
      options.onResult?.("failed");
      await store
        .releaseOutboxEvent(event.id, delayMs, describe(error))
        .catch((releaseError: unknown) =>
          logger.warn({ err: releaseError }, "recording a failed outbox delivery failed; its claim will expire"),
        );
      return;
    }
    options.onResult?.("delivered");
    // If this write is lost the claim expires and the event is sent again: the receiver deduplicates.
    await store
      .markOutboxDelivered(event.id)
      .catch((error: unknown) => logger.warn({ err: error }, "marking an outbox event delivered failed"));
  }

  async function run(): Promise<void> {
    // The first claim waits one interval: a receiver checks the first delivery's token against
    // auth's published keys, which this process serves only once it has started.
    await rest(settings.pollIntervalMs);
    while (!stopping) {
      let claimed: ClaimedOutboxEvent[] = [];
      try {
        claimed = await store.claimOutboxEvents(topic, settings.batchSizeMax, settings.leaseMs);
      } catch (error) {
        logger.warn({ err: error, topic }, "claiming outbox events failed");
      }
      await Promise.all(claimed.map(handle));
      if (claimed.length < settings.batchSizeMax && !stopping) await rest(settings.pollIntervalMs);
    }
  }

  return {
    start() {
      loop ??= run();
    },
    async stop() {
      stopping = true;
      inFlight.abort(new Error("the outbox worker is stopping"));
      wake?.();
      await loop;
    },
  };
}
