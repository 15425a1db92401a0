// Starts the three ports of a service — gRPC (grpc-js), Connect/gRPC-Web
// (HTTP/1.1 + h2c) and admin — around one set of service implementations and
// one interceptor stack, and stops them gracefully.
import { Health } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import { methodsWithoutRule } from "../auth/rules.ts";
import type { TokenVerifier } from "../auth/token-verifier.ts";
import { createHealth, type HealthState, type ReadinessCheck } from "../health.ts";
import { createInterceptorStack } from "../interceptors/index.ts";
import type { Logger } from "../logger.ts";
import type { RpcMetrics } from "../metrics.ts";
import { startAdminServer } from "./admin-server.ts";
import { startConnectServer } from "./connect-server.ts";
import { startGrpcServer } from "./grpc-server.ts";
import type { HttpRoute } from "./http-routes.ts";
import { registration, type ServiceRegistration } from "./registration.ts";
import { releaseClosedHttp2Streams } from "./release-closed-streams.ts";

export interface ServerOptions {
  /** Short service name, e.g. "ledger"; used in the error domain. */
  name: string;
  host: string;
  grpcPort: number;
  httpPort: number;
  adminPort: number;
  services: readonly ServiceRegistration[];
  checks: Readonly<Record<string, ReadinessCheck>>;
  logger: Logger;
  metrics: RpcMetrics;
  verifier: TokenVerifier;
  corsAllowedOrigins: readonly string[];
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /** Largest message either way; 16 MiB fits a 10 MB upload with room for framing. */
  messageBytesMax?: number;
  healthCheckIntervalMs?: number;
  /** Plain GET routes on the Connect port, for documents standards put at a URL. */
  httpRoutes?: readonly HttpRoute[];
}

export interface RunningServer {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly adminPort: number;
  readonly health: HealthState;
  /** NOT_SERVING, stop accepting, let in-flight RPCs finish within graceMs, close. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const unguarded = methodsWithoutRule(options.services.map(({ service }) => service));
  if (unguarded.length > 0) {
    throw new Error(`refusing to serve RPCs without an authorization rule: ${unguarded.join(", ")}`);
  }
  releaseClosedHttp2Streams();
  const health = createHealth({
    serviceNames: options.services.map(({ service }) => service.typeName),
    checks: options.checks,
    intervalMs: options.healthCheckIntervalMs,
    logger: options.logger,
  });
  await health.start();
  const services = [...options.services, registration(Health, health.impl)];
  const interceptors = createInterceptorStack({
    domain: `${options.name}.trustmesh.dev`,
    logger: options.logger,
    metrics: options.metrics,
    verifier: options.verifier,
    defaultTimeoutMs: options.defaultTimeoutMs,
    maxTimeoutMs: options.maxTimeoutMs,
  });
  const shutdownController = new AbortController();
  const messageBytesMax = options.messageBytesMax ?? 16 * 1024 * 1024;
  const common = { services, interceptors, messageBytesMax, shutdownSignal: shutdownController.signal };
  const grpc = await startGrpcServer(options.host, options.grpcPort, common);
  const connect = await startConnectServer(options.host, options.httpPort, {
    ...common,
    corsAllowedOrigins: options.corsAllowedOrigins,
    maxTimeoutMs: options.maxTimeoutMs,
    httpRoutes: options.httpRoutes,
    logger: options.logger,
  });
  const admin = await startAdminServer(options.host, options.adminPort, options.metrics, health);
  return {
    grpcPort: grpc.port,
    httpPort: connect.port,
    adminPort: admin.port,
    health,
    async shutdown(graceMs) {
      health.drain();
      await Promise.all([grpc.shutdown(graceMs), connect.shutdown(graceMs)]);
      // Whatever still runs (open Watch streams) is told to stop.
      shutdownController.abort();
      await admin.close();
    },
  };
}
