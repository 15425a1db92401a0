// Goal: `npm start`'s script brings up the whole platform on its own — local
// PostgreSQL and Redis, six services answering gRPC health SERVING to plain
// @grpc/grpc-js, auth working with its development defaults (sign-up through the
// development outbox, service tokens for the client secrets kept in the data
// folder, with today's scopes even when the kept file names older ones) — and
// Ctrl-C (SIGINT) stops every process it started, exiting cleanly, with nothing
// left listening.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthService, trustmeshServices } from "@trustmesh/api";
import { Health, HealthCheckResponse_ServingStatus } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import { allServiceNames, createServiceClientCredentials, serviceClientScopes } from "@trustmesh/testkit";
import { createGrpcJsClient, grpcJsUnary } from "@trustmesh/testkit/grpc-js";

const repoRoot = join(import.meta.dirname, "..", "..");

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Three non-overlapping ranges of six free ports: gRPC, HTTP and admin. They are drawn
 * below Linux's ephemeral range (32768 and up by default): a port there can be taken as
 * the source port of any outgoing connection, such as a service's own pool to PostgreSQL,
 * between this check and the service binding it.
 */
async function freePortRanges(): Promise<{ grpc: number; http: number; admin: number }> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const ranges = { grpc: base, http: base + 10, admin: base + 20 };
    const ports = Object.values(ranges).flatMap((start) => allServiceNames.map((_, index) => start + index));
    const busy = await Promise.all(ports.map(isListening));
    if (!busy.includes(true)) return ranges;
  }
}

describe("npm start", function () {
  this.timeout(180_000);
  let dataDir: string;
  let child: ChildProcess;
  let output = "";

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "trustmesh-start-"));
    // As root, PostgreSQL runs as the postgres user, who must be able to enter the folder.
    await chmod(dataDir, 0o755);
    // Client credentials kept from an earlier run, when payments' scopes were still broad:
    // npm start keeps the secrets but must hand auth today's scopes.
    const kept = await createServiceClientCredentials(allServiceNames);
    const clients = JSON.parse(kept.authServiceClients) as Record<string, { scopes: string[] }>;
    (clients.payments as { scopes: string[] }).scopes = ["trustmesh.ledger.v1.LedgerService/*", "trustmesh.auth.v1.AuthService/*"];
    await writeFile(join(dataDir, "local-service-clients.json"), JSON.stringify({ ...kept, authServiceClients: JSON.stringify(clients) }));
  });

  after(async () => {
    if (child?.exitCode === null) child.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts six services that answer gRPC health SERVING, and stops everything on SIGINT", async () => {
    const ports = await freePortRanges();
    child = spawn(process.execPath, [join(repoRoot, "scripts", "start.ts")], {
      cwd: repoRoot,
      env: {
        ...process.env,
        DATABASE_URL: "",
        REDIS_URL: "",
        TRUSTMESH_DATA_DIR: dataDir,
        TRUSTMESH_GRPC_BASE_PORT: String(ports.grpc),
        TRUSTMESH_HTTP_BASE_PORT: String(ports.http),
        TRUSTMESH_ADMIN_BASE_PORT: String(ports.admin),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

    const giveUpAt = Date.now() + 120_000;
    while (!output.includes("Trustmesh is running")) {
      assert.equal(child.exitCode, null, `npm start exited early:\n${output}`);
      assert.ok(Date.now() < giveUpAt, `npm start did not come up:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const postgresPort = Number(/postgres\s+postgres:\/\/[^:]+@127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
    const redisPort = Number(/redis\s+redis:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
    assert.ok(postgresPort > 0 && redisPort > 0, output);

    for (const [index, name] of allServiceNames.entries()) {
      assert.match(output, new RegExp(`${name}\\s+gRPC 127\\.0\\.0\\.1:${ports.grpc + index}`));
      const client = createGrpcJsClient(`127.0.0.1:${ports.grpc + index}`);
      try {
        const answer = await grpcJsUnary(client, Health.method.check, { service: trustmeshServices[name].typeName });
        assert.equal(answer.status, HealthCheckResponse_ServingStatus.SERVING, name);
      } finally {
        client.close();
      }
    }

    const auth = createGrpcJsClient(`127.0.0.1:${ports.grpc}`);
    try {
      const signUp = await grpcJsUnary(auth, AuthService.method.signUp, {
        email: "someone@example.com",
        password: "correct horse battery staple",
        idempotencyKey: "start-test",
      });
      assert.ok(signUp.codeExpiresAt, "sign-up works with the development defaults");
      const { secrets } = JSON.parse(await readFile(join(dataDir, "local-service-clients.json"), "utf8")) as {
        secrets: Record<string, string>;
      };
      const issued = await grpcJsUnary(auth, AuthService.method.issueServiceToken, {
        clientId: "payments",
        clientSecret: secrets.payments as string,
        audience: "ledger",
      });
      // The scopes are testkit's table for payments: the ledger methods it calls, and no others.
      const ledgerScopes = serviceClientScopes.payments.filter((scope) => scope.startsWith("trustmesh.ledger.v1.LedgerService/"));
      assert.ok(ledgerScopes.includes("trustmesh.ledger.v1.LedgerService/PostTransaction"));
      assert.deepEqual(issued.scopes, ledgerScopes);
    } finally {
      auth.close();
    }

    child.kill("SIGINT");
    assert.equal(await exited, 0, output);
    const stillListening = await Promise.all(
      [
        postgresPort,
        redisPort,
        ...allServiceNames.flatMap((_, index) => [ports.grpc + index, ports.http + index, ports.admin + index]),
      ].map(isListening),
    );
    assert.deepEqual(stillListening.filter(Boolean), [], "every port is closed after Ctrl-C");
  });
});
