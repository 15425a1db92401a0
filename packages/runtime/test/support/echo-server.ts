// Starts the full runtime server (all three ports, the whole interceptor stack)
// around the EchoService on free ports, for tests and benchmarks.

import type { Interceptor, ServiceImpl } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient } from "@trustmesh/testkit/grpc-js";
import type { ReadinessCheck } from "../../src/health.ts";
import {
  createHttpRouteRegistry,
  createLogger,
  createMetrics,
  createTokenVerifier,
  type RunningServer,
  registration,
  startServer,
} from "../../src/index.ts";
import { type StartedGrpcServer, startGrpcServer } from "../../src/server/grpc-server.ts";
import { EchoService, echoServiceImpl } from "./echo-service.ts";

export interface EchoServerOptions {
  jwksUrl: string;
  corsAllowedOrigins?: string[];
  checks?: Record<string, ReadinessCheck>;
  logLevel?: string;
  healthCheckIntervalMs?: number;
}

export async function startEchoServer(options: EchoServerOptions): Promise<RunningServer> {
  const metrics = createMetrics({ serviceName: "echo" });
  // A document at a fixed URL, a parameterised one, and one that fails, for the HTTP route tests.
  const httpRoutes = createHttpRouteRegistry();
  httpRoutes.get("/.well-known/echo.json", async () => ({
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "max-age=60" },
    body: JSON.stringify({ echo: true }),
  }));
  httpRoutes.get("/documents/:documentId", async (request) => ({
    status: 200,
    headers: { "content-type": "text/plain", etag: `"${request.params.documentId}"` },
    body: `document ${request.params.documentId}, if-none-match ${request.header("if-none-match") ?? "none"}`,
  }));
  httpRoutes.get("/broken", async () => {
    throw new Error("secret detail");
  });
  return startServer({
    name: "echo",
    host: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    adminPort: 0,
    services: [registration(EchoService, echoServiceImpl)],
    checks: options.checks ?? {},
    logger: createLogger({ name: "echo", level: options.logLevel ?? "silent" }),
    metrics,
    // A short cooldown lets the rotation test refetch the JWKS at once.
    verifier: createTokenVerifier({ jwksUrl: options.jwksUrl, issuer: "trustmesh-auth", serviceName: "echo", jwksCooldownMs: 0 }),
    corsAllowedOrigins: options.corsAllowedOrigins ?? [],
    defaultTimeoutMs: 2000,
    maxTimeoutMs: 5000,
    healthCheckIntervalMs: options.healthCheckIntervalMs,
    httpRoutes: httpRoutes.routes,
  });
}

/**
 * Only the gRPC port, with the given interceptors around an EchoService
 * implementation, and a grpc-js client to it: for tests of what one call sees.
 */
export async function startEchoGrpcPort(
  impl: ServiceImpl<typeof EchoService>,
  interceptors: Interceptor[],
): Promise<{ server: StartedGrpcServer; client: grpc.Client; stop(): Promise<void> }> {
  const server = await startGrpcServer("127.0.0.1", 0, {
    services: [registration(EchoService, impl)],
    interceptors,
    messageBytesMax: 1 << 20,
    shutdownSignal: new AbortController().signal,
  });
  const client = createGrpcJsClient(`127.0.0.1:${server.port}`);
  return {
    server,
    client,
    async stop() {
      client.close();
      await server.shutdown(1000);
    },
  };
}
