// In-process cost of each server interceptor, without sockets or HTTP/2: the
// runtime's real interceptor stack invoked through Connect's
// invokeUnaryImplementation around the test EchoService, with a handler
// context as the grpc-js port builds it, 64 calls in flight,
// median of 3 runs of 100,000 calls. Complements ablation.ts, whose numbers
// include transport noise of several µs.
//
//   taskset -c 0 node bench/rpc/interceptor-costs.ts
import { create } from "@bufbuild/protobuf";
import {
  createContextValues,
  createServiceImplSpec,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
} from "@connectrpc/connect";
import { invokeUnaryImplementation } from "@connectrpc/connect/protocol";
import { type EndableCall, endableCallKey } from "../../packages/runtime/src/call-scope.ts";
import { createLogger, createMetrics, createTokenVerifier, registration, startTelemetry } from "../../packages/runtime/src/index.ts";
import { createInterceptorStack } from "../../packages/runtime/src/interceptors/index.ts";
import { EchoService, echoServiceImpl } from "../../packages/runtime/test/support/echo-service.ts";
import { stackOrder } from "./ablation-variants.ts";

startTelemetry({});
const echo = registration(EchoService, echoServiceImpl);
const spec = createServiceImplSpec(echo.service, echo.impl).methods.echo as Extract<MethodImplSpec, { kind: "unary" }>;
const stack = createInterceptorStack({
  domain: "bench.trustmesh.dev",
  logger: createLogger({ name: "bench", level: "info" }),
  metrics: createMetrics({ serviceName: "bench" }),
  // Echo is public and carries no token, so the verifier is never asked.
  verifier: createTokenVerifier({ keys: () => Promise.reject(new Error("unused")), issuer: "bench", serviceName: "bench" }),
  defaultTimeoutMs: 10_000,
  maxTimeoutMs: 60_000,
});
if (stack.length !== stackOrder.length) throw new Error("the interceptor stack changed; update ablation-variants.ts");
const input = create(EchoService.method.echo.input, { message: "hello" });

function handlerContext(call: EndableCall): HandlerContext {
  const values = createContextValues();
  // As the grpc-js port does: the deadline interceptor ends calls through it.
  values.set(endableCallKey, call);
  return {
    service: EchoService,
    method: EchoService.method.echo,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "/trustmesh.testing.v1.EchoService/Echo",
    signal: new AbortController().signal,
    timeoutMs: () => undefined,
    requestHeader: new Headers(),
    responseHeader: new Headers(),
    responseTrailer: new Headers(),
    values,
  };
}

async function microsecondsPerCall(interceptors: Interceptor[], calls: number): Promise<number> {
  const inFlight = 64;
  const startedAt = performance.now();
  for (let done = 0; done < calls; done += inFlight) {
    await Promise.all(
      Array.from({ length: inFlight }, () => {
        // Answered once invoked, as the grpc-js port reports it, so the deadline sweep lets it go.
        const call: EndableCall = { watcher: undefined, end() {} };
        return invokeUnaryImplementation(spec, handlerContext(call), input, interceptors).finally(() => call.watcher?.answered());
      }),
    );
  }
  return ((performance.now() - startedAt) * 1000) / calls;
}

async function median(interceptors: Interceptor[]): Promise<number> {
  const runs = [];
  for (let run = 0; run < 3; run++) runs.push(await microsecondsPerCall(interceptors, 100_000));
  return runs.sort((a, b) => a - b)[1] as number;
}

for (let count = 0; count <= stack.length; count++) await microsecondsPerCall(stack.slice(0, count), 20_000); // Warm-up.
console.log("| Interceptors | µs/call (cumulative) | µs/call (this one alone, minus none) |\n| --- | ---: | ---: |");
const none = await median([]);
console.log(`| none | ${none.toFixed(2)} | — |`);
for (let count = 1; count <= stack.length; count++) {
  const cumulative = await median(stack.slice(0, count));
  const alone = (await median([stack[count - 1] as Interceptor])) - none;
  console.log(`| + ${stackOrder[count - 1]} | ${cumulative.toFixed(2)} | ${alone.toFixed(2)} |`);
}
