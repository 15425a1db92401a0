// Per-RPC request counter and duration histogram, labelled by service, method
// and status code, with the trace id as an exemplar so a slow bucket in Grafana
// links to an example trace. The same interceptor counts served RPCs
// (rpc_server_*) and RPCs sent to other services (rpc_client_*).
//
// This runs on every RPC, so the label set of each method and code is built
// once and reused, its counts and durations are kept in plain numbers until a
// scrape collects them (metrics.ts), and only a sampled trace becomes an exemplar: an unsampled
// one is never exported, so an exemplar naming it would lead nowhere. A scrape
// shows one exemplar per bucket, the latest, so a bucket's exemplar is renewed
// at most once per exemplarIntervalMs rather than on every call (prom-client
// hashes the labels again and validates the exemplar each time).
import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { TraceFlags, trace } from "@opentelemetry/api";
import type { Counter, Histogram } from "prom-client";
import { type HistogramTally, histogramTallyOf, rpcDurationBuckets, type Tally, tallyOf } from "../metrics.ts";
import { codeName, codeOf, observeEnd } from "../rpc-status.ts";

type RpcLabel = "service" | "method" | "code";
type RpcLabels = Readonly<Record<RpcLabel, string>>;

/** How long a bucket keeps its exemplar before a newer call replaces it. */
export const exemplarIntervalMs = 1000;

interface LabelSet {
  readonly labels: RpcLabels;
  /** Counts the label set's calls without prom-client hashing the labels each time (metrics.ts). */
  readonly requests: Tally;
  /** Observes the label set's durations the same way; those with an exemplar go to the histogram itself. */
  readonly durations: HistogramTally;
  /** When each bucket (and the +Inf one after them) last took an exemplar, from performance.now(); -Infinity for never. */
  readonly exemplarAtMs: Float64Array;
}

function bucketIndex(seconds: number): number {
  let index = 0;
  while (index < rpcDurationBuckets.length && seconds > (rpcDurationBuckets[index] as number)) index++;
  return index;
}

export function createMetricsInterceptor(requests: Counter<RpcLabel>, duration: Histogram<RpcLabel>): Interceptor {
  // Label sets by method, then by status code.
  const labelSets = new Map<DescMethod, Map<number, LabelSet>>();
  const labelSetOf = (method: DescMethod, code: number): LabelSet => {
    let byCode = labelSets.get(method);
    if (!byCode) {
      byCode = new Map();
      labelSets.set(method, byCode);
    }
    let labelSet = byCode.get(code);
    if (!labelSet) {
      const labels = { service: method.parent.typeName, method: method.name, code: codeName(code) };
      labelSet = {
        labels,
        requests: tallyOf(requests, labels),
        durations: histogramTallyOf(duration, labels),
        exemplarAtMs: new Float64Array(rpcDurationBuckets.length + 1).fill(Number.NEGATIVE_INFINITY),
      };
      byCode.set(code, labelSet);
    }
    return labelSet;
  };
  return (next) => (request) => {
    const startedAt = performance.now();
    const spanContext = trace.getActiveSpan()?.spanContext();
    const exemplarTraceId = spanContext && spanContext.traceFlags & TraceFlags.SAMPLED ? spanContext.traceId : undefined;
    const record = (error: unknown) => {
      const { labels, requests: counted, durations, exemplarAtMs } = labelSetOf(request.method, error === undefined ? 0 : codeOf(error));
      const endedAt = performance.now();
      const value = (endedAt - startedAt) / 1000;
      counted.add();
      const bucket = exemplarTraceId === undefined ? -1 : bucketIndex(value);
      if (bucket < 0 || endedAt - (exemplarAtMs[bucket] as number) < exemplarIntervalMs) {
        durations.observe(value);
      } else {
        exemplarAtMs[bucket] = endedAt;
        // prom-client types exemplar labels like metric labels; OpenMetrics allows any.
        duration.observe({ labels, value, exemplarLabels: { trace_id: exemplarTraceId } as Record<string, string> });
      }
    };
    return observeEnd(next, request, record);
  };
}
