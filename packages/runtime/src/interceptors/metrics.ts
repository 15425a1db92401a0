// Per-RPC request counter and duration histogram, labelled by service, method
// and status code, with the trace id as an exemplar so a slow bucket in Grafana
// links to an example trace. The same interceptor counts served RPCs
// (rpc_server_*) and RPCs sent to other services (rpc_client_*).
import type { Interceptor } from "@connectrpc/connect";
import { trace } from "@opentelemetry/api";
import type { Counter, Histogram } from "prom-client";
import { callNext, codeName, codeOf, whenResponseEnds } from "../rpc-status.ts";

type RpcLabel = "service" | "method" | "code";

export function createMetricsInterceptor(requests: Counter<RpcLabel>, duration: Histogram<RpcLabel>): Interceptor {
  return (next) => (request) => {
    const startedAt = performance.now();
    const traceId = trace.getActiveSpan()?.spanContext().traceId;
    const record = (error: unknown) => {
      const labels = {
        service: request.service.typeName,
        method: request.method.name,
        code: codeName(error === undefined ? 0 : codeOf(error)),
      };
      requests.inc(labels);
      duration.observe({
        labels,
        value: (performance.now() - startedAt) / 1000,
        // prom-client types exemplar labels like metric labels; OpenMetrics allows any.
        exemplarLabels: (traceId ? { trace_id: traceId } : {}) as Record<string, string>,
      });
    };
    return callNext(() => next(request)).then(
      (response) => whenResponseEnds(response, record),
      (error: unknown) => {
        record(error);
        throw error;
      },
    );
  };
}
