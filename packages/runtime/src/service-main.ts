// The life of a service process: config → logger and metrics → Postgres and
// Redis → migrations → servers → drain on SIGTERM. Each services/<name>/src/main.ts
// is a call to runServiceMain with the service's own parts.
import { Redis } from "ioredis";
import type { JWTVerifyGetKey } from "jose";
import type pg from "pg";
import { Gauge } from "prom-client";
import { createAuthJwks } from "./auth/auth-jwks.ts";
import { createTokenVerifier, type TokenVerifier } from "./auth/token-verifier.ts";
import { baseConfigShape, type Config, ConfigError, type ConfigShape, loadConfig } from "./config.ts";
import { applyMigrations } from "./db/migrate.ts";
import { createServicePool } from "./db/pool.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createMetrics, type RpcMetrics } from "./metrics.ts";
import { createHttpRouteRegistry, type HttpRouteRegistry } from "./server/http-routes.ts";
import { type RunningServer, startServer } from "./server/index.ts";
import type { ServiceRegistration } from "./server/registration.ts";
import { shutdownTelemetry } from "./telemetry/sdk.ts";

export type ServiceConfig<S extends ConfigShape> = Config<typeof baseConfigShape & S>;

export interface ServiceDependencies<S extends ConfigShape> {
  config: ServiceConfig<S>;
  logger: Logger;
  metrics: RpcMetrics;
  /** The service's Postgres pool; hand it to PrismaPg so Prisma and health share it. */
  pool: pg.Pool;
  redis: Redis;
  verifier: TokenVerifier;
  /**
   * Registers work to do when the service stops (worker pools, timers), after
   * in-flight RPCs have drained and before Postgres and Redis close. Hooks run
   * in reverse order of registration, each awaited, and also when start-up
   * fails after they were registered.
   */
  onStop(hook: () => Promise<void> | void): void;
  /** Where the service registers plain GET routes served on its Connect (HTTP) port. */
  httpRoutes: HttpRouteRegistry;
}

export interface ServiceDefinition<S extends ConfigShape> {
  /** Short name: "auth", "ledger", ...; also the metrics app label and error domain. */
  name: string;
  /** Variables this service reads besides the base ones. */
  configShape: S;
  /** Absolute path of prisma/migrations. */
  migrationsDir: string;
  createServices(dependencies: ServiceDependencies<S>): readonly ServiceRegistration[] | Promise<readonly ServiceRegistration[]>;
  /**
   * Where token signing keys come from. Every service but auth leaves this out
   * and fetches auth's keys over gRPC; auth, which holds the keys, supplies them.
   */
  tokenKeys?(dependencies: Omit<ServiceDependencies<S>, "verifier" | "onStop" | "httpRoutes">): JWTVerifyGetKey | Promise<JWTVerifyGetKey>;
}

export interface RunningService {
  readonly server: RunningServer;
  stop(): Promise<void>;
}

function observePool(pool: pg.Pool, metrics: RpcMetrics): void {
  new Gauge({
    name: "db_pool_connections",
    help: "Postgres pool connections by state (total, idle, waiting clients).",
    labelNames: ["state"],
    registers: [metrics.registry],
    collect() {
      this.set({ state: "total" }, pool.totalCount);
      this.set({ state: "idle" }, pool.idleCount);
      this.set({ state: "waiting" }, pool.waitingCount);
    },
  });
}

export async function startService<S extends ConfigShape>(
  definition: ServiceDefinition<S>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningService> {
  const config = loadConfig({ ...baseConfigShape, ...definition.configShape }, env) as ServiceConfig<S>;
  const logger = createLogger({ name: definition.name, level: config.LOG_LEVEL });
  const metrics = createMetrics({ serviceName: definition.name });
  const pool = createServicePool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_MAX }, logger, "Postgres");
  observePool(pool, metrics);
  // Fail fast on Redis commands while it is down instead of queueing them
  // without bound; readiness reports it and callers get UNAVAILABLE.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  redis.on("error", (error) => logger.warn({ err: error.message }, "Redis connection error"));
  let server: RunningServer;
  const stopHooks: (() => Promise<void> | void)[] = [];
  const runStopHooks = async () => {
    for (const hook of stopHooks.splice(0).reverse()) {
      try {
        await hook();
      } catch (error) {
        logger.error({ err: error }, "a stop hook failed");
      }
    }
  };
  try {
    await redis.connect();

    const applied = await applyMigrations({ databaseUrl: config.DATABASE_URL, migrationsDir: definition.migrationsDir, logger });
    if (applied.length > 0) logger.info({ applied }, "migrations applied");

    const base = { config, logger, metrics, pool, redis };
    const keys = definition.tokenKeys ? await definition.tokenKeys(base) : createAuthJwks({ authGrpcUrl: config.AUTH_GRPC_URL, metrics });
    const verifier = createTokenVerifier({ keys, issuer: config.AUTH_ISSUER, serviceName: definition.name });
    const httpRoutes = createHttpRouteRegistry();
    const services = await definition.createServices({ ...base, verifier, httpRoutes, onStop: (hook) => stopHooks.push(hook) });
    server = await startServer({
      name: definition.name,
      host: config.HOST,
      grpcPort: config.GRPC_PORT,
      httpPort: config.HTTP_PORT,
      adminPort: config.ADMIN_PORT,
      services,
      checks: {
        postgres: () => pool.query("SELECT 1"),
        redis: () => redis.ping(),
      },
      logger,
      metrics,
      verifier,
      corsAllowedOrigins: config.CORS_ALLOWED_ORIGINS,
      defaultTimeoutMs: config.RPC_DEFAULT_TIMEOUT_MS,
      maxTimeoutMs: config.RPC_MAX_TIMEOUT_MS,
      httpRoutes: httpRoutes.routes,
    });
  } catch (error) {
    // Whatever was opened before the failure must not keep the process alive.
    await runStopHooks();
    await Promise.allSettled([pool.end(), redis.quit()]);
    throw error;
  }
  logger.info(
    { grpc: server.grpcPort, http: server.httpPort, admin: server.adminPort },
    `${definition.name} serving gRPC on :${server.grpcPort}, Connect on :${server.httpPort}, metrics on :${server.adminPort}/metrics`,
  );
  return {
    server,
    async stop() {
      await server.shutdown(config.SHUTDOWN_GRACE_MS);
      await runStopHooks();
      await Promise.allSettled([pool.end(), redis.quit()]);
      logger.info("stopped");
    },
  };
}

/** Runs a service until SIGTERM or SIGINT; exits 1 with a clear message on bad config. */
export async function runServiceMain<S extends ConfigShape>(definition: ServiceDefinition<S>): Promise<void> {
  let running: RunningService;
  try {
    running = await startService(definition);
  } catch (error) {
    console.error(error instanceof ConfigError ? `${definition.name}: ${error.message}` : error);
    await shutdownTelemetry();
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${definition.name}: ${signal} received, draining`);
    await running.stop();
    await shutdownTelemetry();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}
