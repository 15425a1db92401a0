// Server spans for every RPC, continuing the caller's W3C trace context. It is
// the outermost interceptor so that everything inside, logs and metrics
// exemplars included, sees the span.
//
// This runs on every RPC, so what does not change between calls of a method
// (span name, kind, attributes) is built once per method, and the span ends
// when the transport answers (observeEnd) rather than in a promise layer. The method's
// attributes are set on the started span rather than passed to startSpan: the
// SDK checks attributes given to startSpan twice (before and after sampling)
// and every check allocates, while our samplers (trace id ratio, parent based)
// do not read attributes.
import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { callNext, codeName, codeOf, observeEnd } from "../rpc-status.ts";
import { CallContext } from "../telemetry/call-context.ts";
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

interface MethodSpan {
  readonly name: string;
  readonly attributes: Attributes;
}

const serverSpanOptions: SpanOptions = { kind: SpanKind.SERVER };

export function createTracingInterceptor(): Interceptor {
  const tracer = trace.getTracer("@trustmesh/runtime");
  const methodSpans = new Map<DescMethod, MethodSpan>();
  const methodSpan = (method: DescMethod): MethodSpan => {
    let known = methodSpans.get(method);
    if (!known) {
      const attributes = { "rpc.system": "grpc", "rpc.service": method.parent.typeName, "rpc.method": method.name };
      known = { name: `${method.parent.typeName}/${method.name}`, attributes };
      methodSpans.set(method, known);
    }
    return known;
  };
  return (next) => (request) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.header, headersGetter);
    const { name, attributes } = methodSpan(request.method);
    const span = tracer.startSpan(name, serverSpanOptions, parent);
    // One context object per call, for the span and (filled in by the deadline interceptor) the call scope.
    const spanContext = new CallContext(parent, span);
    // A call the sampler dropped gets the API's non-recording span, which only
    // carries the trace on (downstream calls, log lines); with nothing recorded,
    // no attributes are set and nothing waits for the call's end.
    if (!span.isRecording() && !request.stream)
      return context.with(spanContext, callNext<typeof request, Awaited<ReturnType<typeof next>>>, undefined, next, request);
    span.setAttributes(attributes);
    // Stream bodies are produced after this function returns, so each pull
    // re-enters the span's context.
    const pullInSpan = request.stream ? <T>(pull: () => Promise<T>) => context.with(spanContext, pull) : undefined;
    return context.with(spanContext, observeEnd, undefined, next, request, (error: unknown) => endSpan(span, error), pullInSpan);
  };
}
