// Starts Trustmesh services as real processes on free ports — the same
// `node --import @trustmesh/runtime/telemetry src/main.ts` that production
// runs — each with its own database, and waits until gRPC health says SERVING.
// Cross-service tests and `npm start` both use it.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Health, HealthCheckResponse_ServingStatus } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import { serviceNodeArguments } from "@trustmesh/runtime";
import { findFreePort } from "./free-port.ts";
import { createGrpcJsClient, grpcJsUnary } from "./grpc-js-client.ts";
import { createServiceClientCredentials, type ServiceClientCredentials, serviceClientEnvironment } from "./service-clients.ts";

export const allServiceNames = ["auth", "payments", "ledger", "credential", "health-processing", "face"] as const;
export type ServiceName = (typeof allServiceNames)[number];

const repoRoot = join(import.meta.dirname, "..", "..", "..");

export interface ServiceAddresses {
  name: ServiceName;
  grpcPort: number;
  httpPort: number;
  adminPort: number;
  /** http://127.0.0.1:<grpcPort>, for Connect's gRPC transport. */
  grpcUrl: string;
  /** http://127.0.0.1:<httpPort>, for Connect and gRPC-Web. */
  httpUrl: string;
  metricsUrl: string;
}

export interface RunningServices {
  readonly services: Readonly<Record<ServiceName, ServiceAddresses | undefined>>;
  /** Everything a service printed so far, for failure messages. */
  logsOf(name: ServiceName): string;
  /** Stops one service (SIGTERM, then SIGKILL after the grace period) and starts it again on the same ports, database and environment. */
  restart(name: ServiceName): Promise<void>;
  /** Sends one signal to a service (SIGKILL, to test crash recovery) and waits until it has exited; restart() starts it again. */
  kill(name: ServiceName, signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM to each, then SIGKILL after the grace period. */
  stop(): Promise<void>;
}

export interface StartServicesOptions {
  names?: readonly ServiceName[];
  /** URL of a database for a service, created by the caller (testkit's ensureDatabase, say). */
  databaseUrlFor(name: ServiceName): Promise<string>;
  redisUrl: string;
  /** Extra variables for every service (OTEL_*, LOG_LEVEL, CORS_ALLOWED_ORIGINS ...). */
  env?: Record<string, string>;
  /** Fixed ports instead of free ones: base + index of the service in allServiceNames. */
  basePorts?: { grpc: number; http: number; admin: number };
  /** Key-encryption key ring for every service that seals data at rest; a fresh random one by default. */
  keyEncryptionKeys?: { ring: string; activeId: string };
  /**
   * Service client secrets and auth's AUTH_SERVICE_CLIENTS (npm start keeps its own between runs);
   * fresh ones for the started services by default. An `env` entry still overrides either.
   */
  serviceClients?: ServiceClientCredentials;
  /** Pipe each line of service output here (npm start prints it, tests keep it). */
  onOutput?: (name: ServiceName, line: string) => void;
  readyTimeoutMs?: number;
}

const logTailCharsMax = 64 * 1024;

/** A fresh random key ring, for throwaway environments. */
export function randomKeyEncryptionKeys(): { ring: string; activeId: string } {
  return { ring: `local-1:${randomBytes(32).toString("base64")}`, activeId: "local-1" };
}

async function portsFor(index: number, basePorts: StartServicesOptions["basePorts"]) {
  if (basePorts) return { grpc: basePorts.grpc + index, http: basePorts.http + index, admin: basePorts.admin + index };
  return { grpc: await findFreePort(), http: await findFreePort(), admin: await findFreePort() };
}

async function waitUntilServing(addresses: ServiceAddresses, child: ChildProcess, timeoutMs: number, logs: () => string): Promise<void> {
  const client = createGrpcJsClient(`127.0.0.1:${addresses.grpcPort}`);
  const giveUpAt = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${addresses.name} exited (${child.exitCode ?? child.signalCode}) before serving:\n${logs()}`);
      }
      try {
        const answer = await grpcJsUnary(client, Health.method.check, { service: "" }, { timeoutMs: 1000 });
        if (answer.status === HealthCheckResponse_ServingStatus.SERVING) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > giveUpAt) throw new Error(`${addresses.name} did not become SERVING within ${timeoutMs} ms:\n${logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    client.close();
  }
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

export async function startServices(options: StartServicesOptions): Promise<RunningServices> {
  const names = options.names ?? allServiceNames;
  const keys = options.keyEncryptionKeys ?? randomKeyEncryptionKeys();
  const addresses = {} as Record<ServiceName, ServiceAddresses | undefined>;
  for (const name of allServiceNames) {
    if (!names.includes(name)) continue;
    const ports = await portsFor(allServiceNames.indexOf(name), options.basePorts);
    addresses[name] = {
      name,
      grpcPort: ports.grpc,
      httpPort: ports.http,
      adminPort: ports.admin,
      grpcUrl: `http://127.0.0.1:${ports.grpc}`,
      httpUrl: `http://127.0.0.1:${ports.http}`,
      metricsUrl: `http://127.0.0.1:${ports.admin}/metrics`,
    };
  }
  // Services find auth's keys through AUTH_GRPC_URL even when auth itself is not started here.
  const authGrpcUrl = addresses.auth?.grpcUrl ?? options.env?.AUTH_GRPC_URL ?? "http://127.0.0.1:1";
  // payments calls the ledger; an address nobody answers on when the ledger is not started here.
  const ledgerGrpcUrl = addresses.ledger?.grpcUrl ?? options.env?.LEDGER_GRPC_URL ?? "http://127.0.0.1:1";
  // auth hands ContactVerified events to credential when both run here (services/auth/README.md);
  // without credential the variable stays unset and the events wait in auth's outbox.
  const credentialEnv: Record<string, string> = addresses.credential ? { AUTH_CREDENTIAL_GRPC_URL: addresses.credential.grpcUrl } : {};
  // Each service's client secret for auth's IssueServiceToken, and auth's hashes of them.
  const serviceClients = options.serviceClients ?? (await createServiceClientCredentials(names));

  const logs = new Map<ServiceName, string>();
  const children = new Map<ServiceName, ChildProcess>();
  const environments = new Map<ServiceName, Record<string, string>>();
  const stopGraceMs = 15_000;

  /** Spawns the service with the environment it was given first, and waits until it serves. */
  const launch = async (name: ServiceName) => {
    const address = addresses[name] as ServiceAddresses;
    const child = spawn(process.execPath, [...serviceNodeArguments, "src/main.ts"], {
      cwd: join(repoRoot, "services", name),
      env: environments.get(name),
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.set(name, child);
    const collect = (chunk: string) => {
      logs.set(name, ((logs.get(name) ?? "") + chunk).slice(-logTailCharsMax));
    };
    // Decoded per stream, so a character whose bytes two chunks split arrives whole.
    child.stdout?.setEncoding("utf8").on("data", collect);
    child.stderr?.setEncoding("utf8").on("data", collect);
    // Whole lines: a chunk of a pipe can end in the middle of one (V8's GC trace lines are kilobytes long).
    const { onOutput } = options;
    if (onOutput) {
      for (const stream of [child.stdout, child.stderr]) {
        if (stream === null) continue;
        createInterface({ input: stream }).on("line", (line) => {
          if (line.trim() !== "") onOutput(name, line);
        });
      }
    }
    await waitUntilServing(address, child, options.readyTimeoutMs ?? 60_000, () => logs.get(name) ?? "");
  };

  const running: RunningServices = {
    services: addresses,
    logsOf: (name) => logs.get(name) ?? "",
    async restart(name) {
      const child = children.get(name);
      if (!child) throw new Error(`${name} was not started here`);
      await stopChild(child, stopGraceMs);
      await launch(name);
    },
    async kill(name, signal) {
      const child = children.get(name);
      if (!child) throw new Error(`${name} was not started here`);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill(signal);
      await exited;
    },
    async stop() {
      await Promise.all([...children.values()].map((child) => stopChild(child, stopGraceMs)));
    },
  };

  try {
    await Promise.all(
      names.map(async (name) => {
        const address = addresses[name] as ServiceAddresses;
        environments.set(name, {
          ...(process.env as Record<string, string>),
          HOST: "127.0.0.1",
          GRPC_PORT: String(address.grpcPort),
          HTTP_PORT: String(address.httpPort),
          ADMIN_PORT: String(address.adminPort),
          DATABASE_URL: await options.databaseUrlFor(name),
          // One Redis, one logical database per service, so their keys never meet.
          REDIS_URL: `${options.redisUrl.replace(/\/\d*$/, "")}/${allServiceNames.indexOf(name)}`,
          AUTH_GRPC_URL: authGrpcUrl,
          AUTH_KEK_RING: keys.ring,
          AUTH_KEK_ACTIVE_ID: keys.activeId,
          // Each service that seals data at rest reads its own variables; in this throwaway
          // environment one ring serves them all, in production each has its own.
          HEALTH_KEK_RING: keys.ring,
          HEALTH_KEK_ACTIVE_ID: keys.activeId,
          FACE_KEK_RING: keys.ring,
          FACE_KEK_ACTIVE_ID: keys.activeId,
          CREDENTIAL_KEK_RING: keys.ring,
          CREDENTIAL_KEK_ACTIVE_ID: keys.activeId,
          PAYMENTS_KEK_RING: keys.ring,
          PAYMENTS_KEK_ACTIVE_ID: keys.activeId,
          LEDGER_GRPC_URL: ledgerGrpcUrl,
          // auth reads it; the other services ignore it (it holds hashes only).
          AUTH_SERVICE_CLIENTS: serviceClients.authServiceClients,
          ...serviceClientEnvironment(name, serviceClients),
          OTEL_SERVICE_NAME: name,
          ...credentialEnv,
          ...options.env,
        });
        await launch(name);
      }),
    );
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}
