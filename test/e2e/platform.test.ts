// Goal: the whole platform, as real processes on real Postgres and Redis,
// keeps the foundation's promises: all six services answer gRPC health
// SERVING to plain @grpc/grpc-js and list their service over reflection
// (grpcurl); one trace id spans a call from one service process to another and
// on into Postgres, as seen by an OTLP receiver; invalid input, missing and
// forged tokens get the right codes; /metrics counts every RPC.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { AuthService, LedgerService, trustmeshServices } from "@trustmesh/api";
import { BadRequestSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import {
  allServiceNames,
  type OtlpReceiver,
  type PostgresServer,
  type ReceivedSpan,
  type RedisServer,
  type RunningServices,
  startOtlpReceiver,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";
import { createGrpcJsClient, type GrpcJsError, grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import { generateKeyPair, SignJWT } from "jose";

const run = promisify(execFile);

/** grpcurl from PATH or from Go's bin folder, where `go install` puts it. */
async function findGrpcurl(): Promise<string> {
  const candidates = (process.env.PATH ?? "").split(":").map((dir) => join(dir, "grpcurl"));
  try {
    const { stdout } = await run("go", ["env", "GOPATH"]);
    candidates.push(join(stdout.trim(), "bin", "grpcurl"));
  } catch {
    // No Go toolchain: only PATH counts.
  }
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error("grpcurl is required (go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3); .ci/run installs it");
  return found;
}

async function forgedToken(kid: string): Promise<string> {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  return new SignJWT({ token_kind: "user", roles: ["admin"] })
    .setProtectedHeader({ alg: "EdDSA", kid })
    .setIssuer("trustmesh-auth")
    .setAudience("trustmesh")
    .setSubject("mallory")
    .setExpirationTime("5m")
    .sign(privateKey);
}

describe("platform end to end", function () {
  this.timeout(180_000);
  let postgres: PostgresServer;
  let redis: RedisServer;
  let receiver: OtlpReceiver;
  let platform: RunningServices;

  const address = (name: (typeof allServiceNames)[number]) => {
    const found = platform.services[name];
    assert.ok(found, `${name} is not running`);
    return found;
  };

  before(async () => {
    [postgres, redis, receiver] = await Promise.all([startPostgres(), startRedis(), startOtlpReceiver()]);
    platform = await startServices({
      databaseUrlFor: (name) => postgres.createDatabase(`trustmesh_${name.replace("-", "_")}`),
      redisUrl: redis.url,
      env: {
        LOG_LEVEL: "info",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "100",
      },
    });
  });

  after(async () => {
    await platform?.stop();
    await Promise.all([receiver?.close(), redis?.stop(), postgres?.stop()]);
  });

  it("one trace id spans a call into ledger, ledger's call to auth, and auth's Postgres query", async () => {
    // A token whose kid ledger has never seen makes ledger fetch auth's keys
    // (AuthService.GetJwks over gRPC), and auth reads them from Postgres.
    const traceId = randomBytes(16).toString("hex");
    const ledger = createClient(LedgerService, createConnectTransport({ baseUrl: address("ledger").httpUrl, httpVersion: "1.1" }));
    await assert.rejects(
      ledger.getBalance(
        { accountId: crypto.randomUUID() },
        {
          headers: {
            authorization: `Bearer ${await forgedToken("unknown-kid")}`,
            traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
          },
        },
      ),
      (error: ConnectError) => error.code === Code.Unauthenticated,
    );
    // pg instrumentation names the database system in either of two attributes, by semantic-convention version.
    const isPostgresQuery = (span: ReceivedSpan) => (span.attributes["db.system.name"] ?? span.attributes["db.system"]) === "postgresql";
    const find = (spans: ReceivedSpan[], service: string, predicate: (span: ReceivedSpan) => boolean) =>
      spans.find((span) => span.traceId === traceId && span.serviceName === service && predicate(span));
    const isLedgerServer = (span: ReceivedSpan) => span.kind === 2 && span.name === "trustmesh.ledger.v1.LedgerService/GetBalance";
    // Each process exports its spans in its own batches, so the last of them can arrive after auth's query.
    const spans = await receiver.waitFor(
      (all) => find(all, "auth", isPostgresQuery) !== undefined && find(all, "ledger", isLedgerServer) !== undefined,
    );
    const ledgerServer = find(spans, "ledger", isLedgerServer);
    const ledgerClient = find(spans, "ledger", (span) => span.kind === 3 && span.name === "trustmesh.auth.v1.AuthService/GetJwks");
    const authServer = find(spans, "auth", (span) => span.kind === 2 && span.name === "trustmesh.auth.v1.AuthService/GetJwks");
    const authQuery = find(spans, "auth", isPostgresQuery);
    assert.ok(ledgerServer, "ledger's server span");
    assert.ok(ledgerClient, "ledger's client span for GetJwks");
    assert.ok(authServer, "auth's server span for GetJwks");
    assert.ok(authQuery, "auth's Postgres span");
    // The chain of parents: ledger server → ledger client → auth server.
    assert.equal(ledgerClient.parentSpanId, ledgerServer.spanId);
    assert.equal(authServer.parentSpanId, ledgerClient.spanId);
  });

  it("every service answers grpc.health.v1 SERVING to @grpc/grpc-js", async () => {
    for (const name of allServiceNames) {
      const client = createGrpcJsClient(`127.0.0.1:${address(name).grpcPort}`);
      try {
        const overall = await grpcJsUnary(client, Health.method.check, { service: "" });
        assert.equal(overall.status, HealthCheckResponse_ServingStatus.SERVING, name);
        const own = await grpcJsUnary(client, Health.method.check, { service: trustmeshServices[name].typeName });
        assert.equal(own.status, HealthCheckResponse_ServingStatus.SERVING, name);
      } finally {
        client.close();
      }
    }
  });

  it("server reflection lists each service to grpcurl", async () => {
    const grpcurl = await findGrpcurl();
    for (const name of allServiceNames) {
      const { stdout } = await run(grpcurl, ["-plaintext", `127.0.0.1:${address(name).grpcPort}`, "list"]);
      const listed = stdout.trim().split("\n");
      assert.ok(listed.includes(trustmeshServices[name].typeName), `${name}: ${stdout}`);
      assert.ok(listed.includes("grpc.health.v1.Health"), `${name}: ${stdout}`);
    }
    const { stdout } = await run(grpcurl, [
      "-plaintext",
      `127.0.0.1:${address("ledger").grpcPort}`,
      "describe",
      "trustmesh.ledger.v1.LedgerService",
    ]);
    assert.match(stdout, /rpc PostTransaction/);
  });

  it("auth publishes its signing key: GetJwks over Connect JSON, as curl would call it", async () => {
    const response = await fetch(`${address("auth").httpUrl}/trustmesh.auth.v1.AuthService/GetJwks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { keys: { kty: string; crv: string; kid: string; alg: string }[] };
    assert.equal(body.keys.length, 1);
    assert.deepEqual([body.keys[0]?.kty, body.keys[0]?.crv, body.keys[0]?.alg], ["OKP", "Ed25519", "EdDSA"]);
  });

  it("rejects an invalid field with INVALID_ARGUMENT naming it, over Connect and gRPC", async () => {
    const auth = createClient(AuthService, createConnectTransport({ baseUrl: address("auth").httpUrl, httpVersion: "1.1" }));
    await assert.rejects(
      auth.signUp({ email: "not-an-email", password: "correct horse battery staple", idempotencyKey: "k1" }),
      (error: ConnectError) => {
        assert.equal(error.code, Code.InvalidArgument);
        assert.match(error.message, /email/);
        assert.ok(error.findDetails(BadRequestSchema)[0]?.fieldViolations.some((violation) => violation.field === "email"));
        return true;
      },
    );
    const client = createGrpcJsClient(`127.0.0.1:${address("auth").grpcPort}`);
    try {
      await assert.rejects(
        grpcJsUnary(client, AuthService.method.signUp, {
          email: "not-an-email",
          password: "correct horse battery staple",
          idempotencyKey: "k2",
        }),
        (error: GrpcJsError) => error.code === grpc.status.INVALID_ARGUMENT && /email/.test(error.details),
      );
      // Authentication comes before validation: an anonymous caller learns nothing about a protected RPC's inputs.
      const ledger = createGrpcJsClient(`127.0.0.1:${address("ledger").grpcPort}`);
      await assert.rejects(
        grpcJsUnary(ledger, LedgerService.method.getBalance, { accountId: "not-a-uuid" }),
        (error: GrpcJsError) => error.code === grpc.status.UNAUTHENTICATED,
      );
      ledger.close();
    } finally {
      client.close();
    }
  });

  it("refuses protected RPCs without a token, and with a forged one, on every service", async () => {
    const jwks = (await (
      await fetch(`${address("auth").httpUrl}/trustmesh.auth.v1.AuthService/GetJwks`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      })
    ).json()) as {
      keys: { kid: string }[];
    };
    // Forged with auth's real kid, so only the signature gives it away.
    const forged = await forgedToken(jwks.keys[0]?.kid ?? "");
    const protectedCalls = {
      auth: ["GetMe", {}],
      payments: ["GetLimits", {}],
      ledger: ["Reconcile", {}],
      credential: ["ListCredentials", {}],
      "health-processing": ["ListJobs", {}],
      face: ["ListEventValidations", { eventId: "event-1" }],
    } as const;
    for (const name of allServiceNames) {
      const [methodName, body] = protectedCalls[name];
      for (const headers of [{}, { authorization: `Bearer ${forged}` }]) {
        const response = await fetch(`${address(name).httpUrl}/${trustmeshServices[name].typeName}/${methodName}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(body),
        });
        const error = (await response.json()) as { code: string };
        assert.equal(response.status, 401, `${name}/${methodName}`);
        assert.equal(error.code, "unauthenticated", `${name}/${methodName}`);
      }
    }
  });

  it("shows the per-RPC counter and histogram on every service's /metrics after a call", async () => {
    for (const name of allServiceNames) {
      const serviceName = trustmeshServices[name].typeName.replaceAll(".", "\\.");
      const body = await (await fetch(address(name).metricsUrl)).text();
      assert.match(
        body,
        new RegExp(`rpc_server_requests_total\\{service="${serviceName}",method="\\w+",code="UNAUTHENTICATED"[^}]*\\} [1-9]`),
        name,
      );
      assert.match(body, new RegExp(`rpc_server_duration_seconds_bucket\\{[^}]*service="${serviceName}"[^}]*\\} [1-9]`), name);
      assert.match(body, /db_pool_connections\{[^}]*state="total"/, name);
    }
  });
});
