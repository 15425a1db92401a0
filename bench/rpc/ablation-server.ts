// Child process for ablation.ts: the runtime's grpc-js adapter
// (packages/runtime/src/server/grpc-server.ts) around EchoService with only
// the first N interceptors of the production stack, so the cost each one adds
// can be measured in isolation. The stack comes from the runtime's own
// createInterceptorStack, so the variants follow whatever it builds.
import type { Interceptor } from "@connectrpc/connect";
import {
  createInterceptorStack,
  createLogger,
  createMetrics,
  createTokenVerifier,
  registration,
} from "../../packages/runtime/src/index.ts";
import { startGrpcServer } from "../../packages/runtime/src/server/grpc-server.ts";
import { EchoService, echoServiceImpl } from "../../packages/runtime/test/support/echo-service.ts";
import { serveChildProtocol } from "./child-protocol.ts";

const jwksUrl = process.env.BENCH_JWKS_URL;
const interceptorCount = Number(process.env.BENCH_INTERCEPTOR_COUNT);
if (!jwksUrl || !Number.isInteger(interceptorCount) || interceptorCount < 0) {
  throw new Error("BENCH_JWKS_URL and BENCH_INTERCEPTOR_COUNT must be set by bench/rpc/ablation.ts");
}

// Telemetry is started in every variant as in production (ablation.ts starts
// this process with --import @trustmesh/runtime/telemetry), so the variants
// differ only in their interceptors.
const stack = createInterceptorStack({
  domain: "echo.trustmesh.dev",
  logger: createLogger({ name: "echo", level: "info" }),
  metrics: createMetrics({ serviceName: "echo" }),
  verifier: createTokenVerifier({ jwksUrl, issuer: "trustmesh-auth", serviceName: "echo" }),
  defaultTimeoutMs: 2000,
  maxTimeoutMs: 5000,
});
// The harness labels variants by name; a stack that grew or shrank would make the labels lie.
const expectedLength = Number(process.env.BENCH_STACK_LENGTH);
if (stack.length !== expectedLength || interceptorCount > stack.length) {
  throw new Error(`the runtime stack has ${stack.length} interceptors; bench/rpc/ablation-variants.ts names ${expectedLength}: update it`);
}

// Counts OK answers for the harness's check. It sits outermost in every
// variant, the one without interceptors included, so its small cost cancels out.
let okCount = 0;
const countOk: Interceptor = (next) => async (request) => {
  const response = await next(request);
  okCount++;
  return response;
};

const shutdownController = new AbortController();
const server = await startGrpcServer("127.0.0.1", 0, {
  services: [registration(EchoService, echoServiceImpl)],
  interceptors: [countOk, ...stack.slice(0, interceptorCount)],
  messageBytesMax: 16 * 1024 * 1024,
  shutdownSignal: shutdownController.signal,
});

serveChildProtocol({
  ports: { grpcPort: server.port },
  okCount: () => okCount,
  async stop() {
    shutdownController.abort();
    await server.shutdown(1000);
  },
});
