// Prometheus metrics. One registry per process, served by the admin port in
// OpenMetrics format so histograms can carry trace-id exemplars.
import { Counter, type CounterConfiguration, collectDefaultMetrics, Histogram, type HistogramConfiguration, Registry } from "prom-client";

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

/** One key per set of label values, whatever order the labels were written in. */
function labelKey(labels: object): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
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
  const key = labelKey(labels);
  let tally = tallies.get(key);
  if (!tally) {
    tally = new PendingTally<string>(labels);
    tallies.set(key, tally);
  }
  return tally;
}

/** Observes one label set of a histogram. */
export interface HistogramTally {
  observe(value: number): void;
}

/** A label set's observations since the histogram was last collected, per bucket. */
class PendingObservations<L extends string> implements HistogramTally {
  readonly labels: Readonly<Record<L, string>>;
  readonly upperBounds: readonly number[];
  /** By bucket, as the index of its upper bound; the last counts values above every bound (only +Inf holds them). */
  readonly bucketCounts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Readonly<Record<L, string>>, upperBounds: readonly number[]) {
    this.labels = labels;
    this.upperBounds = upperBounds;
    this.bucketCounts = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    // prom-client refuses these too; a NaN would poison the sum for good.
    if (!Number.isFinite(value)) throw new TypeError(`not a finite value: ${value}`);
    // The first bucket whose upper bound is at least the value, as prom-client picks it.
    let index = 0;
    while (index < this.upperBounds.length && value > (this.upperBounds[index] as number)) index++;
    (this.bucketCounts[index] as number)++;
    this.sum += value;
    this.count++;
  }

  clear(): void {
    this.bucketCounts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * What prom-client (15) keeps per label set of a histogram, in its `hashMap`:
 * the counts per bucket upper bound (not cumulative), sum and count. Its
 * scrape output is computed from these, so observations folded in here are
 * exported exactly as if each had been observed; the tests compare the two.
 */
interface HistogramValues {
  labels: object;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

function histogramValuesByLabels(histogram: Histogram<string>): Map<string, HistogramValues> {
  const { hashMap } = histogram as unknown as { hashMap?: Record<string, HistogramValues> };
  if (typeof hashMap !== "object" || hashMap === null) throw new Error("prom-client's Histogram no longer keeps a hashMap; see metrics.ts");
  return new Map(Object.values(hashMap).map((values) => [labelKey(values.labels), values]));
}

/** Adds a label set's pending observations to what the histogram holds for it, and empties them. */
function fold(values: HistogramValues, observations: PendingObservations<string>): void {
  for (let index = 0; index < observations.upperBounds.length; index++) {
    const upperBound = observations.upperBounds[index] as number;
    values.bucketValues[upperBound] = (values.bucketValues[upperBound] ?? 0) + (observations.bucketCounts[index] as number);
  }
  values.sum += observations.sum;
  values.count += observations.count;
  observations.clear();
}

interface PendingHistogram {
  readonly upperBounds: readonly number[];
  readonly observations: Map<string, PendingObservations<string>>;
}

/** The pending observations of each histogram made by createTalliedHistogram, by label values. */
const pendingOf = new WeakMap<Histogram<string>, PendingHistogram>();

/**
 * A prom-client histogram whose observations can be kept per label set in
 * plain numbers (histogramTallyOf) and are added to it when it is collected,
 * which every scrape of /metrics does first. prom-client's observe() makes a
 * closure, builds and hashes a label string, checks the labels and, with
 * exemplars on, looks the label set up a second time, for every value; the
 * RPC duration histograms observe every RPC (bench/rpc). Observations that
 * carry an exemplar still go to observe() at once; the histogram's buckets,
 * sum and count on /metrics are the same either way.
 */
export function createTalliedHistogram<L extends string>(configuration: HistogramConfiguration<L> & { buckets: number[] }): Histogram<L> {
  const pending: PendingHistogram = { upperBounds: [...configuration.buckets].sort((a, b) => a - b), observations: new Map() };
  const histogram: Histogram<L> = new Histogram<L>({
    ...configuration,
    collect() {
      let known: Map<string, HistogramValues> | undefined;
      for (const [key, observations] of pending.observations) {
        if (observations.count === 0) continue;
        known ??= histogramValuesByLabels(histogram as Histogram<string>);
        let values = known.get(key);
        if (!values) {
          (histogram as Histogram<string>).zero(observations.labels);
          known = histogramValuesByLabels(histogram as Histogram<string>);
          values = known.get(key);
          if (!values) throw new Error("prom-client's Histogram.zero() made no entry for the labels; see metrics.ts");
        }
        fold(values, observations);
      }
    },
  });
  // A reset drops what is pending too, as it drops every observation prom-client holds.
  const reset = histogram.reset.bind(histogram);
  histogram.reset = () => {
    for (const observations of pending.observations.values()) observations.clear();
    reset();
  };
  pendingOf.set(histogram as Histogram<string>, pending);
  return histogram;
}

/**
 * Observes one label set of a histogram: kept until the next collection for
 * one made by createTalliedHistogram, straight to observe() for any other
 * (which must have exemplars enabled, as every histogram here does). Meant to
 * be asked once per label set and kept, like tallyOf.
 */
export function histogramTallyOf<L extends string>(histogram: Histogram<L>, labels: Readonly<Record<L, string>>): HistogramTally {
  const pending = pendingOf.get(histogram as Histogram<string>);
  if (!pending) return { observe: (value) => histogram.observe({ labels, value }) };
  const key = labelKey(labels);
  let observations = pending.observations.get(key);
  if (!observations) {
    observations = new PendingObservations<string>(labels, pending.upperBounds);
    pending.observations.set(key, observations);
  }
  return observations;
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
    serverDuration: createTalliedHistogram({
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
    clientDuration: createTalliedHistogram({
      name: "rpc_client_duration_seconds",
      help: "Time until another service answered an RPC, in seconds.",
      labelNames,
      buckets: rpcDurationBuckets,
      enableExemplars: true,
      registers: [registry],
    }),
  };
}
