// OpenTelemetry for a service process: W3C trace context, OTLP/protobuf export
// configured by the standard OTEL_* variables, and spans for pg and ioredis.
// Without an OTLP endpoint nothing is exported, but spans still exist so trace
// ids reach logs and metric exemplars.

import { OTLPTraceExporter as OtlpHttpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpHttpProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { startNodeSdk } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace";

let sdk: { shutdown(): Promise<void> } | undefined;

function exportConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_TRACES_EXPORTER === "none" || env.OTEL_SDK_DISABLED === "true") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL picks the encoding, as the specification
 * says: http/protobuf (the default) or http/json. gRPC export is not bundled;
 * an OpenTelemetry Collector sidecar accepts either HTTP encoding.
 */
function createExporter(env: NodeJS.ProcessEnv) {
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  if (protocol === "http/json") return new OtlpHttpJsonExporter();
  if (protocol === "http/protobuf") return new OtlpHttpProtobufExporter();
  throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL "${protocol}" is not supported; use http/protobuf or http/json`);
}

export function startTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  if (sdk) return;
  // Passing processors means the SDK no longer reads OTEL_BSP_*, so the one we
  // rely on (tests shorten the export delay) is read here. A no-op processor
  // keeps a tracer provider, and so trace ids, when nothing is exported.
  const spanProcessors: SpanProcessor[] = exportConfigured(env)
    ? [new BatchSpanProcessor({ exporter: createExporter(env), scheduledDelayMillis: Number(env.OTEL_BSP_SCHEDULE_DELAY ?? 5000) })]
    : [new NoopSpanProcessor()];
  sdk = startNodeSdk({
    resourceAttributes: { "service.name": env.OTEL_SERVICE_NAME ?? "trustmesh" },
    spanProcessors,
    // Metrics are Prometheus' job here (the admin port), and logs go to stdout.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      // Queries only under a traced RPC: connection-pool chatter with no parent is noise.
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
}

/** Flushes buffered spans; call once on shutdown. */
export async function shutdownTelemetry(): Promise<void> {
  await sdk?.shutdown();
  sdk = undefined;
}
