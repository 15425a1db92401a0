// Per-RPC request counter and duration histogram, labelled by service, method
// and status code, with the trace id as an exemplar so a slow bucket in Grafana
// links to an example trace. The same interceptor counts served RPCs
// (rpc_server_*) and RPCs sent to other services (rpc_client_*).
//
// This runs on every RPC, so the label set of each method and code is built
// once and reused, and only a sampled trace becomes an exemplar: an unsampled
// one is never exported, so an exemplar naming it would lead nowhere.
import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { TraceFlags, trace } from "@opentelemetry/api";
import type { Counter, Histogram } from "prom-client";
import { codeName, codeOf, observeEnd } from "../rpc-status.ts";

type RpcLabel = "service" | "method" | "code";
type RpcLabels = Readonly<Record<RpcLabel, string>>;

export function createMetricsInterceptor(requests: Counter<RpcLabel>, duration: Histogram<RpcLabel>): Interceptor {
  // Label sets by method, then by status code.
  const labelSets = new Map<DescMethod, Map<number, RpcLabels>>();
  const labelsOf = (method: DescMethod, code: number): RpcLabels => {
    let byCode = labelSets.get(method);
    if (!byCode) {
      byCode = new Map();
      labelSets.set(method, byCode);
    }
    let labels = byCode.get(code);
    if (!labels) {
      labels = { service: method.parent.typeName, method: method.name, code: codeName(code) };
      byCode.set(code, labels);
    }
    return labels;
  };
  return (next) => (request) => {
    const startedAt = performance.now();
    const spanContext = trace.getActiveSpan()?.spanContext();
    const exemplarTraceId = spanContext && spanContext.traceFlags & TraceFlags.SAMPLED ? spanContext.traceId : undefined;
    const record = (error: unknown) => {
      const labels = labelsOf(request.method, error === undefined ? 0 : codeOf(error));
      const value = (performance.now() - startedAt) / 1000;
      requests.inc(labels);
      if (exemplarTraceId === undefined) {
        duration.observe({ labels, value });
      } else {
        // prom-client types exemplar labels like metric labels; OpenMetrics allows any.
        duration.observe({ labels, value, exemplarLabels: { trace_id: exemplarTraceId } as Record<string, string> });
      }
    };
    return observeEnd(next, request, record);
  };
}
