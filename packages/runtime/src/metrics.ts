// Prometheus metrics. One registry per process, served by the admin port in
// OpenMetrics format so histograms can carry trace-id exemplars.
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Buckets from 0.5 ms to 10 s: RPCs here range from cache hits to OCR jobs. */
export const rpcDurationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface RpcMetrics {
  readonly registry: Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>;
  readonly serverRequests: Counter<"service" | "method" | "code">;
  readonly serverDuration: Histogram<"service" | "method" | "code">;
  readonly clientRequests: Counter<"service" | "method" | "code">;
  readonly clientDuration: Histogram<"service" | "method" | "code">;
}

export function createMetrics(options: { serviceName: string }): RpcMetrics {
  const registry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registry.setDefaultLabels({ app: options.serviceName });
  collectDefaultMetrics({ register: registry });
  const labelNames = ["service", "method", "code"] as const;
  return {
    registry,
    serverRequests: new Counter({
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
    clientRequests: new Counter({
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
