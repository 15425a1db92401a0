// Server spans for every RPC, continuing the caller's W3C trace context. It is
// the outermost interceptor so that everything inside, logs and metrics
// exemplars included, sees the span.
import type { Interceptor } from "@connectrpc/connect";
import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { callNext, codeName, codeOf, whenResponseEnds } from "../rpc-status.ts";
import { headersGetter } from "../telemetry/headers.ts";

function endSpan(span: Span, error: unknown): void {
  const code = error === undefined ? 0 : codeOf(error);
  span.setAttribute("rpc.grpc.status_code", code);
  if (error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: codeName(code) });
    if (error instanceof Error) span.recordException(error);
  }
  span.end();
}

export function createTracingInterceptor(): Interceptor {
  const tracer = trace.getTracer("@trustmesh/runtime");
  return (next) => (request) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.header, headersGetter);
    const span = tracer.startSpan(
      `${request.service.typeName}/${request.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": request.service.typeName,
          "rpc.method": request.method.name,
        },
      },
      parent,
    );
    const spanContext = trace.setSpan(parent, span);
    return callNext(() => context.with(spanContext, next, undefined, request)).then(
      // Stream bodies are produced after this function returns, so each pull
      // re-enters the span's context.
      (response) =>
        whenResponseEnds(
          response,
          (error) => endSpan(span, error),
          (pull) => context.with(spanContext, pull),
        ),
      (error: unknown) => {
        endSpan(span, error);
        throw error;
      },
    );
  };
}
