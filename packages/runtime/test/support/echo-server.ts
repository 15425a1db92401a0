// Starts the full runtime server (all three ports, the whole interceptor stack)
// around the EchoService on free ports, for tests and benchmarks.

import type { ReadinessCheck } from "../../src/health.ts";
import { createLogger, createMetrics, createTokenVerifier, type RunningServer, registration, startServer } from "../../src/index.ts";
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
  });
}
