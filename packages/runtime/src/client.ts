// Typed clients for service-to-service calls over gRPC. Each call carries the
// W3C trace context, the caller's service token, and the remaining deadline
// and cancellation of the RPC being handled, so a downstream call never
// outlives the request that caused it.
import type { DescService } from "@bufbuild/protobuf";
import { type CallOptions, type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { currentCallScope } from "./call-scope.ts";
import { createMetricsInterceptor } from "./interceptors/metrics.ts";
import type { RpcMetrics } from "./metrics.ts";
import { codeName, codeOf, whenResponseEnds } from "./rpc-status.ts";
import { headersSetter } from "./telemetry/headers.ts";

export interface ServiceClientOptions {
  /** The callee's gRPC address, e.g. http://ledger:50051. */
  baseUrl: string;
  metrics?: RpcMetrics;
  /** Returns a current service token (see createServiceTokenProvider). */
  serviceToken?: () => Promise<string>;
  /** Deadline for calls made outside any RPC (jobs, start-up). */
  defaultTimeoutMs?: number;
}

function createClientTracingInterceptor(): Interceptor {
  const tracer = trace.getTracer("@trustmesh/runtime");
  return (next) => async (request) => {
    const span = tracer.startSpan(`${request.service.typeName}/${request.method.name}`, {
      kind: SpanKind.CLIENT,
      attributes: { "rpc.system": "grpc", "rpc.service": request.service.typeName, "rpc.method": request.method.name },
    });
    const spanContext = trace.setSpan(context.active(), span);
    propagation.inject(spanContext, request.header, headersSetter);
    const end = (error: unknown) => {
      if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: codeName(codeOf(error)) });
      span.end();
    };
    try {
      return whenResponseEnds(await context.with(spanContext, () => next(request)), end);
    } catch (error) {
      end(error);
      throw error;
    }
  };
}

function createServiceTokenInterceptor(serviceToken: () => Promise<string>): Interceptor {
  return (next) => async (request) => {
    request.header.set("authorization", `Bearer ${await serviceToken()}`);
    return next(request);
  };
}

/** Call options inheriting the current RPC's remaining deadline and cancellation. */
function inheritedCallOptions(given: CallOptions | undefined, defaultTimeoutMs: number): CallOptions {
  const scope = currentCallScope();
  const remainingMs = scope ? Math.max(1, scope.deadlineAtMs - Date.now()) : defaultTimeoutMs;
  return {
    ...given,
    timeoutMs: Math.min(given?.timeoutMs ?? remainingMs, remainingMs),
    signal: given?.signal ?? scope?.signal,
  };
}

export function createServiceClient<S extends DescService>(service: S, options: ServiceClientOptions): Client<S> {
  const interceptors: Interceptor[] = [createClientTracingInterceptor()];
  if (options.metrics) interceptors.push(createMetricsInterceptor(options.metrics.clientRequests, options.metrics.clientDuration));
  if (options.serviceToken) interceptors.push(createServiceTokenInterceptor(options.serviceToken));
  const client = createClient(service, createGrpcTransport({ baseUrl: options.baseUrl, interceptors }));
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = (client as Record<string, (request: unknown, callOptions?: CallOptions) => unknown>)[method.localName];
    if (!call) continue;
    wrapped[method.localName] = (request: unknown, callOptions?: CallOptions) =>
      call(request, inheritedCallOptions(callOptions, defaultTimeoutMs));
  }
  return wrapped as Client<S>;
}

/**
 * Caches a service token until shortly before it expires, sharing one fetch
 * between concurrent callers.
 */
export function createServiceTokenProvider(
  fetchToken: () => Promise<{ token: string; expiresAtMs: number }>,
  refreshBeforeExpiryMs = 60_000,
): () => Promise<string> {
  let current: { token: string; expiresAtMs: number } | undefined;
  let pending: Promise<string> | undefined;
  return () => {
    if (current && current.expiresAtMs - refreshBeforeExpiryMs > Date.now()) return Promise.resolve(current.token);
    pending ??= fetchToken()
      .then((fresh) => {
        current = fresh;
        return fresh.token;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}
