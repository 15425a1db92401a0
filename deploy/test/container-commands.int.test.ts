// Goal: the image's entrypoint does what the chart asks of it, run here on
// this machine against real Postgres and Redis: `migrate <service>` applies the
// service's migrations once and exits (0 the second time, with nothing to do),
// refuses an unknown service or a missing DATABASE_URL with a clear message;
// `serve <service>` starts the service with telemetry loaded first, answers
// gRPC health SERVING for readiness and "liveness", and drains on SIGTERM.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Health, HealthCheckResponse_ServingStatus } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import { serviceV8PoolArgument } from "@trustmesh/runtime";
import { findFreePort, type PostgresServer, type RedisServer, startPostgres, startRedis } from "@trustmesh/testkit";
import { createGrpcJsClient, grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import pg from "pg";

const repositoryRoot = join(import.meta.dirname, "..", "..");
const entrypoint = join(repositoryRoot, "deploy", "docker", "entrypoint.ts");

function run(args: string[], env: Record<string, string>): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    // As the Dockerfile's ENTRYPOINT runs it.
    const child = spawn(process.execPath, [serviceV8PoolArgument, entrypoint, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      cwd: repositoryRoot,
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("exit", (status) => resolve({ status, output }));
  });
}

describe("container entrypoint", function () {
  this.timeout(120_000);
  let postgres: PostgresServer;
  let redis: RedisServer;

  before(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  });
  after(async () => {
    await Promise.all([redis?.stop(), postgres?.stop()]);
  });

  it("refuses a missing command, an unknown service and a missing DATABASE_URL", async () => {
    const none = await run([], {});
    assert.equal(none.status, 2);
    assert.match(none.output, /usage: serve\|migrate <service>/);
    const unknown = await run(["migrate", "billing"], {});
    assert.equal(unknown.status, 2);
    assert.match(unknown.output, /one of auth, payments, ledger/);
    const noDatabase = await run(["migrate", "ledger"], {});
    assert.equal(noDatabase.status, 2);
    assert.match(noDatabase.output, /DATABASE_URL is required but not set/);
  });

  it("migrate applies a service's migrations once; a second run has nothing to do", async () => {
    const databaseUrl = await postgres.createDatabase("entrypoint_ledger");
    const first = await run(["migrate", "ledger"], { DATABASE_URL: databaseUrl });
    assert.equal(first.status, 0, first.output);
    // Every migration folder of the service, in name order, is what the command applies.
    const expected = readdirSync(new URL("../../services/ledger/prisma/migrations/", import.meta.url), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    assert.ok(expected.length >= 1);
    assert.match(first.output, new RegExp(`${expected.length} migration\\(s\\) applied`));
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const applied = await client.query("SELECT name FROM _trustmesh_migrations ORDER BY name");
      assert.deepEqual(
        applied.rows.map((row) => row.name),
        expected,
      );
    } finally {
      await client.end();
    }
    const second = await run(["migrate", "ledger"], { DATABASE_URL: databaseUrl });
    assert.equal(second.status, 0, second.output);
    assert.match(second.output, /0 migration\(s\) applied/);
  });

  it("migrate fails with exit 1 and the cause when the database cannot be reached", async () => {
    const port = await findFreePort();
    const result = await run(["migrate", "ledger"], { DATABASE_URL: `postgresql://nobody@127.0.0.1:${port}/nothing` });
    assert.equal(result.status, 1);
    assert.match(result.output, /migration failed/);
  });

  it("serve starts the service, healthy for readiness and liveness, and drains on SIGTERM", async () => {
    const [grpcPort, httpPort, adminPort] = [await findFreePort(), await findFreePort(), await findFreePort()];
    let child: ChildProcess | undefined;
    let output = "";
    const client = createGrpcJsClient(`127.0.0.1:${grpcPort}`);
    try {
      child = spawn(process.execPath, [entrypoint, "serve", "ledger"], {
        cwd: "/",
        env: {
          PATH: process.env.PATH ?? "",
          HOST: "127.0.0.1",
          GRPC_PORT: String(grpcPort),
          HTTP_PORT: String(httpPort),
          ADMIN_PORT: String(adminPort),
          DATABASE_URL: await postgres.createDatabase("entrypoint_serve"),
          REDIS_URL: `${redis.url}/2`,
          AUTH_GRPC_URL: "http://127.0.0.1:1",
        },
      });
      child.stdout?.on("data", (chunk) => (output += chunk));
      child.stderr?.on("data", (chunk) => (output += chunk));
      const giveUpAt = Date.now() + 60_000;
      for (;;) {
        assert.equal(child.exitCode, null, `ledger exited early:\n${output}`);
        const answer = await grpcJsUnary(client, Health.method.check, { service: "" }, { timeoutMs: 1000 }).catch(() => undefined);
        if (answer?.status === HealthCheckResponse_ServingStatus.SERVING) break;
        assert.ok(Date.now() < giveUpAt, `ledger never became SERVING:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const liveness = await grpcJsUnary(client, Health.method.check, { service: "liveness" });
      assert.equal(liveness.status, HealthCheckResponse_ServingStatus.SERVING);
      const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      assert.match(metrics, /rpc_server_requests_total\{[^}]*service="grpc.health.v1.Health"/);
      const exited = new Promise<number | null>((resolve) => child?.once("exit", (status) => resolve(status)));
      child.kill("SIGTERM");
      assert.equal(await exited, 0, output);
    } finally {
      client.close();
      if (child && child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
