// The real processes the acceptance tests talk to: auth (started by the testkit,
// whose signing key mints the tests' tokens, as auth itself would sign them) and
// health-processing processes this file starts itself, so a test can SIGKILL one.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HealthProcessingService } from "@trustmesh/api";
import { Health, HealthCheckResponse_ServingStatus } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import { serviceNodeArguments } from "@trustmesh/runtime";
import { createAuthTokenSigner, findFreePort } from "@trustmesh/testkit";
import { createGrpcJsClient, grpcJsUnary } from "@trustmesh/testkit/grpc-js";

const serviceDir = join(import.meta.dirname, "..", "..");

/** Signs user tokens with auth's own signing key (the testkit's createAuthTokenSigner). */
export async function createTokenMinter(authDatabaseUrl: string, keyRing: { ring: string; activeId: string }) {
  const sign = await createAuthTokenSigner(authDatabaseUrl, keyRing);
  return (userId: string, roles: string[] = []) => sign({ token_kind: "user", roles }, userId, "trustmesh");
}

export type HealthClient = Client<typeof HealthProcessingService>;

/** A gRPC client of a health-processing process that sends this bearer token on every call. */
export function createHealthClient(grpcUrl: string, token: string): HealthClient {
  return createClient(
    HealthProcessingService,
    createGrpcTransport({
      baseUrl: grpcUrl,
      interceptors: [
        (next) => (request) => {
          request.header.set("authorization", `Bearer ${token}`);
          return next(request);
        },
      ],
    }),
  );
}

export interface HealthProcess {
  grpcUrl: string;
  httpUrl: string;
  metricsUrl: string;
  child: ChildProcess;
  /** Everything the process printed. */
  output(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Starts `node --import @trustmesh/runtime/telemetry src/main.ts`, as production does, and waits for SERVING. */
export async function startHealthProcess(env: Record<string, string>): Promise<HealthProcess> {
  const [grpcPort, httpPort, adminPort] = [await findFreePort(), await findFreePort(), await findFreePort()];
  const child = spawn(process.execPath, [...serviceNodeArguments, "src/main.ts"], {
    cwd: serviceDir,
    env: {
      ...(process.env as Record<string, string>),
      HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(httpPort),
      ADMIN_PORT: String(adminPort),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const health = createGrpcJsClient(`127.0.0.1:${grpcPort}`);
  try {
    for (const giveUpAt = Date.now() + 60_000; ; ) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`health-processing exited before serving:\n${output}`);
      const status = await grpcJsUnary(
        health,
        Health.method.check,
        { service: HealthProcessingService.typeName },
        { timeoutMs: 1000 },
      ).then(
        (answer) => answer.status,
        () => undefined,
      );
      if (status === HealthCheckResponse_ServingStatus.SERVING) break;
      if (Date.now() > giveUpAt) throw new Error(`health-processing did not become SERVING:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    health.close();
  }
  return {
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    metricsUrl: `http://127.0.0.1:${adminPort}/metrics`,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}
