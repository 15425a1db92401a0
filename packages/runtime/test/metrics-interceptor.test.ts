// Goal: the metrics interceptor counts every call and keeps a trace-id exemplar
// per histogram bucket, renewing a bucket's exemplar at most once per
// exemplarIntervalMs, so the first sampled call in a bucket stays its
// exemplar while a call landing in another bucket still gives that one its own;
// counts kept between scrapes (createTalliedCounter) reach every scrape whole,
// also when several interceptors (one per client) share a counter.
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { createContextValues, type Interceptor, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { trace } from "@opentelemetry/api";
import { EchoRequestSchema, EchoResponseSchema } from "@trustmesh/api/trustmesh/testing/v1/echo_service_pb.js";
import { createMetrics, startTelemetry } from "../src/index.ts";
import { createMetricsInterceptor } from "../src/interceptors/metrics.ts";
import { EchoService } from "./support/echo-service.ts";

const method = EchoService.method.echo;

function echoRequest(): UnaryRequest {
  return {
    stream: false,
    message: create(EchoRequestSchema, { message: "hello" }),
    method: method as UnaryRequest["method"],
    service: EchoService,
    requestMethod: "POST",
    url: `/${EchoService.typeName}/${method.name}`,
    signal: new AbortController().signal,
    header: new Headers(),
    contextValues: createContextValues(),
  };
}

/** A handler that answers after delayMs. */
function handlerAfter(delayMs: number): Parameters<Interceptor>[0] {
  return async (request) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return {
      stream: false,
      message: create(EchoResponseSchema, { message: "hello" }),
      method: request.method,
      service: request.service,
      header: new Headers(),
      trailer: new Headers(),
    } as UnaryResponse;
  };
}

/** The trace id of the exemplar on the bucket line with this upper bound, or undefined. */
function exemplarOn(exposition: string, upperBound: string): string | undefined {
  const line = exposition
    .split("\n")
    .find((text) => text.startsWith("rpc_server_duration_seconds_bucket{") && text.includes(`le="${upperBound}"`));
  return line?.match(/# \{trace_id="([0-9a-f]{32})"\}/)?.[1];
}

describe("metrics interceptor", () => {
  before(() => startTelemetry({}));

  it("keeps the first exemplar of a bucket for its interval and still gives other buckets theirs", async () => {
    const metrics = createMetrics({ serviceName: "metrics-test" });
    const interceptor = createMetricsInterceptor(metrics.serverRequests, metrics.serverDuration);
    const tracer = trace.getTracer("metrics-test");
    // Each call runs in its own sampled span, so each has its own trace id.
    const callInSpan = (delayMs: number) =>
      tracer.startActiveSpan("call", async (span) => {
        await interceptor(handlerAfter(delayMs))(echoRequest());
        span.end();
        return span.spanContext().traceId;
      });
    // 60 ms lands in the (0.05, 0.1] bucket with room either side; no delay lands far below it.
    const first = await callInSpan(60);
    const second = await callInSpan(60);
    const fast = await callInSpan(0);
    const exposition = await metrics.registry.metrics();
    assert.match(exposition, /rpc_server_requests_total\{[^}]*method="Echo",code="OK"[^}]*\} 3/);
    assert.equal(exemplarOn(exposition, "0.1"), first, "the bucket's first call within the interval stays its exemplar");
    assert.notEqual(exemplarOn(exposition, "0.1"), second);
    const fastBuckets = ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05"];
    assert.ok(
      fastBuckets.some((bound) => exemplarOn(exposition, bound) === fast),
      "a call in another bucket gets an exemplar of its own",
    );
  });

  it("hands every call counted between scrapes to the next scrape, across interceptors sharing a counter", async () => {
    const metrics = createMetrics({ serviceName: "tally-test" });
    const first = createMetricsInterceptor(metrics.clientRequests, metrics.clientDuration)(handlerAfter(0));
    const second = createMetricsInterceptor(metrics.clientRequests, metrics.clientDuration)(handlerAfter(0));
    const okLine = /rpc_client_requests_total\{[^}]*method="Echo",code="OK"[^}]*\} (\d+)/;
    const countNow = async () => Number((await metrics.registry.metrics()).match(okLine)?.[1]);
    await Promise.all([first(echoRequest()), second(echoRequest()), first(echoRequest())]);
    assert.equal(await countNow(), 3);
    assert.equal(await countNow(), 3, "a scrape with no new calls reads the same total");
    await second(echoRequest());
    assert.equal(await countNow(), 4);
  });
});
