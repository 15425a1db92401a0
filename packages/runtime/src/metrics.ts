// Prometheus metrics. One registry per process, served by the admin port in
// OpenMetrics format so histograms can carry trace-id exemplars.
import { Counter, type CounterConfiguration, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Buckets from 0.5 ms to 10 s: RPCs here range from cache hits to OCR jobs. */
export const rpcDurationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface RpcMetrics {
  readonly registry: Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>;
  readonly serverRequests: Counter<"service" | "method" | "code">;
  readonly serverDuration: Histogram<"service" | "method" | "code">;
  readonly clientRequests: Counter<"service" | "method" | "code">;
  readonly clientDuration: Histogram<"service" | "method" | "code">;
}

/** Counts one label set of a counter. */
export interface Tally {
  add(): void;
}

/** A label set's increments since the counter was last collected. */
class PendingTally<L extends string> implements Tally {
  readonly labels: Readonly<Record<L, string>>;
  count = 0;

  constructor(labels: Readonly<Record<L, string>>) {
    this.labels = labels;
  }

  add(): void {
    this.count++;
  }
}

/** The tallies of each counter made by createTalliedCounter, by label values. */
const talliesOf = new WeakMap<Counter<string>, Map<string, PendingTally<string>>>();

/**
 * A prom-client counter whose increments can be kept per label set in plain
 * numbers (tallyOf) and are added to it when it is collected, which every
 * scrape of /metrics does first. prom-client's inc() builds and hashes a label
 * string on every call, and the RPC counters count every RPC (bench/rpc); this
 * way a label set is hashed once per scrape, and a scrape still reads every
 * call counted so far.
 */
export function createTalliedCounter<L extends string>(configuration: CounterConfiguration<L>): Counter<L> {
  const tallies = new Map<string, PendingTally<L>>();
  const counter = new Counter<L>({
    ...configuration,
    collect() {
      for (const tally of tallies.values()) {
        if (tally.count === 0) continue;
        this.inc(tally.labels, tally.count);
        tally.count = 0;
      }
    },
  });
  talliesOf.set(counter as Counter<string>, tallies as Map<string, PendingTally<string>>);
  return counter;
}

/**
 * Counts one label set of a counter: kept until the next collection for one
 * made by createTalliedCounter, straight to inc() for any other. Meant to be
 * asked once per label set and kept; asking again for the same labels (another
 * client's interceptor, say) gets the same tally, so a counter keeps one per
 * label set it has seen.
 */
export function tallyOf<L extends string>(counter: Counter<L>, labels: Readonly<Record<L, string>>): Tally {
  const tallies = talliesOf.get(counter as Counter<string>);
  if (!tallies) return { add: () => counter.inc(labels) };
  const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
  let tally = tallies.get(key);
  if (!tally) {
    tally = new PendingTally<string>(labels);
    tallies.set(key, tally);
  }
  return tally;
}

export function createMetrics(options: { serviceName: string }): RpcMetrics {
  const registry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registry.setDefaultLabels({ app: options.serviceName });
  collectDefaultMetrics({ register: registry });
  const labelNames = ["service", "method", "code"] as const;
  return {
    registry,
    serverRequests: createTalliedCounter({
      name: "rpc_server_requests_total",
      help: "RPCs handled, by service, method and status code.",
      labelNames,
      registers: [registry],
    }),
    serverDuration: new Histogram({
      name: "rpc_server_duration_seconds",
      help: "Time to handle an RPC, from first byte to status, in seconds.",
      labelNames,
      buckets: rpcDurationBuckets,
      enableExemplars: true,
      registers: [registry],
    }),
    clientRequests: createTalliedCounter({
      name: "rpc_client_requests_total",
      help: "RPCs sent to other services, by service, method and status code.",
      labelNames,
      registers: [registry],
    }),
    clientDuration: new Histogram({
      name: "rpc_client_duration_seconds",
      help: "Time until another service answered an RPC, in seconds.",
      labelNames,
      buckets: rpcDurationBuckets,
      enableExemplars: true,
      registers: [registry],
    }),
  };
}
