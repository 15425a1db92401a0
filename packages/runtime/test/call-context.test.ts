// Goal: a call served over grpc-js through the full interceptor stack runs its
// handler in one call context that carries both the call's span (a child of
// the caller's W3C trace context, sampled or not) and its deadline scope, so
// downstream calls inherit the deadline and continue the trace, also from
// inside a child span the handler starts, with no second async frame for the
// scope (callScopeStorage stays empty); concurrent calls keep their own, a
// caller without a deadline gets the default and a longer one is capped, and
// unsampled calls are counted as sampled ones are.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { ServiceImpl } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { context as otelContext, propagation, trace } from "@opentelemetry/api";
import { grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import { callScopeStorage, currentCallScope } from "../src/call-scope.ts";
import { createInterceptorStack, createLogger, createMetrics, createTokenVerifier, startTelemetry } from "../src/index.ts";
import { headersSetter } from "../src/telemetry/headers.ts";
import { startEchoGrpcPort } from "./support/echo-server.ts";
import { EchoService, echoServiceImpl } from "./support/echo-service.ts";

/** What the handler saw of its call, read by the test. */
interface Observed {
  deadlineInMs: number | undefined;
  scopeInStorage: boolean;
  traceparent: string | null;
  deadlineInChildSpanMs: number;
  traceparentInChildSpan: string | null;
}

function outgoingTraceparent(): string | null {
  const headers = new Headers();
  propagation.inject(otelContext.active(), headers, headersSetter);
  return headers.get("traceparent");
}

describe("call context", () => {
  const metrics = createMetrics({ serviceName: "echo" });
  let client: grpc.Client;
  let stop: () => Promise<void>;
  /** What each call's handler saw, by request message. */
  const observations = new Map<string, Observed>();

  before(async () => {
    startTelemetry({});
    const impl: ServiceImpl<typeof EchoService> = {
      ...echoServiceImpl,
      async echo(request) {
        const startedAt = Date.now();
        // After a wait, so concurrent calls overlap and the context must survive an await.
        await sleep(20);
        const scope = currentCallScope();
        const child = trace.getTracer("call-context-test").startSpan("downstream");
        const inChild = otelContext.with(trace.setSpan(otelContext.active(), child), () => ({
          deadlineInChildSpanMs: (currentCallScope()?.deadlineAtMs ?? Number.NaN) - startedAt,
          traceparentInChildSpan: outgoingTraceparent(),
        }));
        child.end();
        observations.set(request.message, {
          deadlineInMs: scope ? scope.deadlineAtMs - startedAt : undefined,
          scopeInStorage: callScopeStorage.getStore() !== undefined,
          traceparent: outgoingTraceparent(),
          ...inChild,
        });
        return { message: request.message, traceId: trace.getActiveSpan()?.spanContext().traceId ?? "" };
      },
    };
    ({ client, stop } = await startEchoGrpcPort(
      impl,
      createInterceptorStack({
        domain: "echo.trustmesh.dev",
        logger: createLogger({ name: "echo", level: "silent" }),
        metrics,
        verifier: createTokenVerifier({
          keys: () => Promise.reject(new Error("no token is sent here")),
          issuer: "test",
          serviceName: "echo",
        }),
        defaultTimeoutMs: 2000,
        maxTimeoutMs: 5000,
      }),
    ));
  });

  after(() => stop());

  const callerTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const callerSpanId = "00f067aa0ba902b7";

  for (const flags of ["01", "00"]) {
    const sampled = flags === "01";
    it(`continues a ${sampled ? "sampled" : "not-sampled"} caller's trace and passes the deadline on, also from a child span`, async () => {
      const answer = await grpcJsUnary(
        client,
        EchoService.method.echo,
        { message: `traced-${flags}` },
        { metadata: { traceparent: `00-${callerTraceId}-${callerSpanId}-${flags}` }, timeoutMs: 3000 },
      );
      assert.equal(answer.traceId, callerTraceId, "the server span continues the caller's trace");
      const observed = observations.get(`traced-${flags}`);
      assert.ok(observed, "the handler ran");
      const traceparentShape = new RegExp(`^00-${callerTraceId}-([0-9a-f]{16})-${flags}$`);
      const outgoing = observed.traceparent?.match(traceparentShape);
      assert.ok(outgoing, `downstream calls carry the trace with flags ${flags}: ${observed.traceparent}`);
      assert.notEqual(outgoing[1], callerSpanId, "downstream calls name the server span as their parent");
      assert.match(observed.traceparentInChildSpan ?? "", traceparentShape);
      // The caller's 3 s, less what the call took to arrive; never the 2 s default.
      assert.ok(
        observed.deadlineInMs !== undefined && observed.deadlineInMs > 2500 && observed.deadlineInMs <= 3000,
        String(observed.deadlineInMs),
      );
      assert.ok(observed.deadlineInChildSpanMs > 2500 && observed.deadlineInChildSpanMs <= 3000, String(observed.deadlineInChildSpanMs));
      assert.equal(observed.scopeInStorage, false, "the scope rides in the call context, not in a second async frame");
      const counted = await metrics.serverRequests.get();
      const ok = counted.values.find((value) => value.labels.method === "Echo" && value.labels.code === "OK");
      assert.equal(ok?.value, sampled ? 1 : 2, "sampled or not, every call is counted");
    });
  }

  it("gives a caller without a deadline the default one, and caps a longer one at the maximum", async () => {
    await grpcJsUnary(client, EchoService.method.echo, { message: "no-deadline" });
    await grpcJsUnary(client, EchoService.method.echo, { message: "long-deadline" }, { timeoutMs: 60_000 });
    const defaulted = observations.get("no-deadline")?.deadlineInMs;
    const capped = observations.get("long-deadline")?.deadlineInMs;
    // defaultTimeoutMs 2000 and maxTimeoutMs 5000, as the stack above is built.
    assert.ok(defaulted !== undefined && defaulted > 1500 && defaulted <= 2000, String(defaulted));
    assert.ok(capped !== undefined && capped > 4500 && capped <= 5000, String(capped));
  });

  it("keeps each concurrent call's own deadline", async () => {
    const timeoutsMs = [1000, 4000, 2500];
    await Promise.all(
      timeoutsMs.map((timeoutMs) => grpcJsUnary(client, EchoService.method.echo, { message: `concurrent-${timeoutMs}` }, { timeoutMs })),
    );
    for (const timeoutMs of timeoutsMs) {
      const deadlineInMs = observations.get(`concurrent-${timeoutMs}`)?.deadlineInMs;
      assert.ok(deadlineInMs !== undefined && deadlineInMs > timeoutMs - 500 && deadlineInMs <= timeoutMs, `${timeoutMs}: ${deadlineInMs}`);
    }
  });
});
