// grpc.health.v1.Health backed by real readiness checks (Postgres, Redis ...).
// Checks run on a timer rather than per request, so probes are cheap and a
// probe storm cannot become a database storm. Watch streams every change.
import { EventEmitter, on } from "node:events";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import type { Logger } from "./logger.ts";

/** A dependency check: resolves when the dependency is usable, rejects otherwise. */
export type ReadinessCheck = () => Promise<unknown>;

export interface HealthOptions {
  /** Fully qualified names of the services this process serves; "" is always known. */
  serviceNames: readonly string[];
  checks: Readonly<Record<string, ReadinessCheck>>;
  intervalMs?: number;
  checkTimeoutMs?: number;
  logger: Logger;
}

export interface HealthState {
  readonly impl: ServiceImpl<typeof Health>;
  /** True when every check passed last time and the process is not draining. */
  isServing(): boolean;
  /** Names of the checks that failed last time. */
  failingChecks(): string[];
  /** Runs the checks now and starts the timer. */
  start(): Promise<void>;
  /** NOT_SERVING from now on, for graceful shutdown; stops the timer. */
  drain(): void;
}

function withTimeout(check: ReadinessCheck, timeoutMs: number): Promise<unknown> {
  return Promise.race([
    check(),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs).unref()),
  ]);
}

/**
 * A health name that answers SERVING while the process runs, whatever its
 * dependencies say: Kubernetes' liveness probe asks for it, so an outage of
 * Postgres or Redis takes pods out of rotation (readiness, service "") without
 * restarting every one of them.
 */
export const livenessServiceName = "liveness";

export function createHealth(options: HealthOptions): HealthState {
  const known = new Set(["", ...options.serviceNames]);
  const changes = new EventEmitter();
  changes.setMaxListeners(0); // One listener per open Watch stream.
  let failing: string[] = Object.keys(options.checks);
  let draining = false;
  let timer: NodeJS.Timeout | undefined;

  const status = () => (draining || failing.length > 0 ? ServingStatus.NOT_SERVING : ServingStatus.SERVING);

  async function runChecks(): Promise<void> {
    const before = status();
    const results = await Promise.all(
      Object.entries(options.checks).map(async ([name, check]) => {
        try {
          await withTimeout(check, options.checkTimeoutMs ?? 2000);
          return undefined;
        } catch (error) {
          options.logger.warn({ check: name, err: error }, "readiness check failed");
          return name;
        }
      }),
    );
    failing = results.filter((name) => name !== undefined);
    if (status() !== before) changes.emit("change");
  }

  const impl: ServiceImpl<typeof Health> = {
    check(request) {
      if (request.service === livenessServiceName) return { status: ServingStatus.SERVING };
      if (!known.has(request.service)) throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      return { status: status() };
    },
    async *watch(request, context) {
      if (!known.has(request.service)) {
        yield { status: ServingStatus.SERVICE_UNKNOWN };
        return;
      }
      let last = status();
      yield { status: last };
      try {
        for await (const _ of on(changes, "change", { signal: context.signal })) {
          if (status() === last) continue;
          last = status();
          yield { status: last };
          // A draining server ends its streams so shutdown need not wait for them.
          if (draining) return;
        }
      } catch (error) {
        if (!context.signal.aborted) throw error;
      }
    },
  };

  return {
    impl,
    isServing: () => status() === ServingStatus.SERVING,
    failingChecks: () => [...failing],
    async start() {
      await runChecks();
      timer = setInterval(() => void runChecks(), options.intervalMs ?? 5000);
      timer.unref();
    },
    drain() {
      clearInterval(timer);
      if (draining) return;
      draining = true;
      changes.emit("change");
    },
  };
}
