// Goal: the runtime serves one set of handlers over gRPC (grpc-js), Connect
// (HTTP/1.1 and HTTP/2) and gRPC-Web through the full interceptor stack:
// authentication against a JWKS served over HTTP, authorization from the proto
// rules, validation naming the field, error mapping that leaks nothing,
// deadlines, streaming, health, metrics, CORS, and plain GET routes beside the RPCs.
import assert from "node:assert/strict";
import { create, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { BadRequestSchema, ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import { StatusSchema } from "@trustmesh/api/google/rpc/status_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import { createGrpcJsClient, type GrpcJsError, grpcJsServerStream, grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import { type RunningServer, startTelemetry } from "../src/index.ts";
import { startEchoServer } from "./support/echo-server.ts";
import { EchoService, echoCalls } from "./support/echo-service.ts";
import { createTestKey, type JwksServer, signToken, startJwksServer, type TestKey } from "./support/tokens.ts";

const methods = EchoService.method;

/** Polls until a condition holds, for state that changes on a timer or in another call. */
async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("runtime server", () => {
  let jwks: JwksServer;
  let key: TestKey;
  let server: RunningServer;
  let grpcClient: grpc.Client;
  let connect11: Client<typeof EchoService>;
  let connect2: Client<typeof EchoService>;
  let grpcWeb: Client<typeof EchoService>;
  let healthy = true;

  before(async () => {
    // The real SDK, exporting nothing: spans exist, so exemplars and trace ids do.
    startTelemetry({});
    key = await createTestKey("key-1");
    jwks = await startJwksServer([key]);
    server = await startEchoServer({
      jwksUrl: jwks.url,
      corsAllowedOrigins: ["http://console.example"],
      checks: { fake_dependency: async () => assert.ok(healthy, "dependency down") },
      healthCheckIntervalMs: 50,
    });
    grpcClient = createGrpcJsClient(`127.0.0.1:${server.grpcPort}`);
    const baseUrl = `http://127.0.0.1:${server.httpPort}`;
    connect11 = createClient(EchoService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
    connect2 = createClient(EchoService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    grpcWeb = createClient(EchoService, createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }));
  });

  after(async () => {
    grpcClient.close();
    await server.shutdown(1000);
    await jwks.close();
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  describe("transports", () => {
    it("answers a unary RPC over grpc-js, Connect HTTP/1.1, Connect HTTP/2 and gRPC-Web", async () => {
      const viaGrpc = await grpcJsUnary(grpcClient, methods.echo, { message: "grpc" });
      assert.equal(viaGrpc.message, "grpc");
      assert.equal((await connect11.echo({ message: "c11" })).message, "c11");
      assert.equal((await connect2.echo({ message: "c2" })).message, "c2");
      assert.equal((await grpcWeb.echo({ message: "web" })).message, "web");
    });

    it("sends the response header and trailer a handler sets, over grpc-js and Connect, and none it does not", async () => {
      const viaGrpc = (behaviour: string) =>
        new Promise<{ header: grpc.Metadata; trailer: grpc.Metadata }>((resolve, reject) => {
          let header = new grpc.Metadata();
          const call = grpcClient.makeUnaryRequest(
            `/${EchoService.typeName}/Echo`,
            (message: MessageShape<typeof methods.echo.input>) => Buffer.from(toBinary(methods.echo.input, message)),
            (bytes: Buffer) => fromBinary(methods.echo.output, bytes),
            create(methods.echo.input, { message: "hello", behaviour }),
            (error) => error && reject(error),
          );
          call.on("metadata", (metadata: grpc.Metadata) => {
            header = metadata;
          });
          call.on("status", (status: grpc.StatusObject) => resolve({ header, trailer: status.metadata }));
        });
      const withHeaders = await viaGrpc("headers");
      assert.deepEqual(withHeaders.header.get("x-echo-header"), ["hello"]);
      assert.deepEqual(withHeaders.trailer.get("x-echo-trailer"), ["hello"]);
      const without = await viaGrpc("");
      assert.deepEqual(without.header.get("x-echo-header"), []);
      assert.deepEqual(without.trailer.get("x-echo-trailer"), []);

      let connectHeader: Headers | undefined;
      let connectTrailer: Headers | undefined;
      await connect11.echo(
        { message: "hello", behaviour: "headers" },
        { onHeader: (header) => (connectHeader = header), onTrailer: (trailer) => (connectTrailer = trailer) },
      );
      assert.equal(connectHeader?.get("x-echo-header"), "hello");
      assert.equal(connectTrailer?.get("x-echo-trailer"), "hello");
    });

    it("streams server messages over grpc-js and Connect", async () => {
      const viaGrpc = await grpcJsServerStream(grpcClient, methods.echoStream, { message: "s", count: 3 });
      assert.deepEqual(
        viaGrpc.map((message) => message.index),
        [0, 1, 2],
      );
      const viaConnect: number[] = [];
      for await (const message of connect11.echoStream({ message: "s", count: 4 })) viaConnect.push(message.index);
      assert.deepEqual(viaConnect, [0, 1, 2, 3]);
    });
  });

  describe("validation", () => {
    it("rejects an invalid field with INVALID_ARGUMENT naming the field, on both transports", async () => {
      const error = await connect11
        .echoStream({ message: "x", count: 0 })
        [Symbol.asyncIterator]()
        .next()
        .then(
          () => assert.fail("expected an error"),
          (reason: unknown) => ConnectError.from(reason),
        );
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.message, /count/);
      const [badRequest] = error.findDetails(BadRequestSchema);
      assert.equal(badRequest?.fieldViolations[0]?.field, "count");

      const grpcError = await grpcJsUnary(grpcClient, methods.echo, { message: "x".repeat(2000) }).then(
        () => assert.fail("expected an error"),
        (reason: GrpcJsError) => reason,
      );
      assert.equal(grpcError.code, grpc.status.INVALID_ARGUMENT);
      assert.match(grpcError.details, /message/);
      // The standard details reach plain gRPC clients through grpc-status-details-bin.
      const [statusBytes] = grpcError.metadata.get("grpc-status-details-bin");
      const status = fromBinary(StatusSchema, statusBytes as Buffer);
      const typeUrls = status.details.map((detail) => detail.typeUrl);
      assert.ok(typeUrls.includes("type.googleapis.com/google.rpc.BadRequest"), typeUrls.join());
    });
  });

  describe("authentication and authorization", () => {
    it("refuses a protected RPC without a token with UNAUTHENTICATED", async () => {
      await assert.rejects(connect11.echoAuthenticated({ message: "hi" }), (error: ConnectError) => error.code === Code.Unauthenticated);
      await assert.rejects(
        grpcJsUnary(grpcClient, methods.echoAuthenticated, { message: "hi" }),
        (error: GrpcJsError) => error.code === grpc.status.UNAUTHENTICATED,
      );
    });

    it("accepts a valid user token and hands the user id to the handler", async () => {
      const token = await signToken(key, { subject: "user-1", kind: "user" });
      const response = await connect11.echoAuthenticated({ message: "hi" }, { headers: bearer(token) });
      assert.equal(response.userId, "user-1");
      const viaGrpc = await grpcJsUnary(grpcClient, methods.echoAuthenticated, { message: "hi" }, { metadata: bearer(token) });
      assert.equal(viaGrpc.userId, "user-1");
    });

    it("rejects a forged token (signed by a key not in the JWKS) and an expired one", async () => {
      const forger = await createTestKey("key-1"); // Same kid, different key.
      const forged = await signToken(forger, { subject: "user-1", kind: "user" });
      await assert.rejects(
        connect11.echoAuthenticated({}, { headers: bearer(forged) }),
        (error: ConnectError) => error.code === Code.Unauthenticated,
      );
      const expired = await signToken(key, { subject: "user-1", kind: "user", expiresInSeconds: -60 });
      await assert.rejects(connect11.echoAuthenticated({}, { headers: bearer(expired) }), (error: ConnectError) => {
        assert.equal(error.code, Code.Unauthenticated);
        assert.equal(error.findDetails(ErrorInfoSchema)[0]?.reason, "TOKEN_EXPIRED");
        return true;
      });
      const wrongIssuer = await signToken(key, { subject: "user-1", kind: "user", issuer: "someone-else" });
      await assert.rejects(
        connect11.echoAuthenticated({}, { headers: bearer(wrongIssuer) }),
        (error: ConnectError) => error.code === Code.Unauthenticated,
      );
      await assert.rejects(
        connect11.echoAuthenticated({}, { headers: { authorization: "Basic dXNlcjpwYXNz" } }),
        (error: ConnectError) => error.code === Code.Unauthenticated,
      );
    });

    it("follows key rotation: a token signed by a new kid is accepted once the JWKS publishes it", async () => {
      const rotated = await createTestKey("key-2");
      jwks.publish([key, rotated]);
      const token = await signToken(rotated, { subject: "user-2", kind: "user" });
      const response = await connect11.echoAuthenticated({ message: "rotated" }, { headers: bearer(token) });
      assert.equal(response.userId, "user-2");
    });

    it("lets a user act only on their own resources", async () => {
      const token = await signToken(key, { subject: "user-1", kind: "user" });
      assert.equal((await connect11.echoOwner({ userId: "user-1" }, { headers: bearer(token) })).userId, "user-1");
      await assert.rejects(
        connect11.echoOwner({ userId: "user-2" }, { headers: bearer(token) }),
        (error: ConnectError) => error.code === Code.PermissionDenied,
      );
      // EchoOwner's rule sets admins: true; EchoAdmin below shows admins are not admitted everywhere.
      const admin = await signToken(key, { subject: "root", kind: "user", roles: ["admin"] });
      assert.equal((await connect11.echoOwner({ userId: "user-2" }, { headers: bearer(admin) })).userId, "user-2");
    });

    it("admits admins to admin RPCs and refuses everyone else", async () => {
      const admin = await signToken(key, { subject: "root", kind: "user", roles: ["admin"] });
      const user = await signToken(key, { subject: "user-1", kind: "user" });
      assert.equal((await connect11.echoAdmin({ message: "a" }, { headers: bearer(admin) })).message, "a");
      await assert.rejects(
        connect11.echoAdmin({ message: "a" }, { headers: bearer(user) }),
        (error: ConnectError) => error.code === Code.PermissionDenied,
      );
    });

    it("admits only the named internal service to service RPCs", async () => {
      const payments = await signToken(key, { subject: "payments", kind: "service" });
      const face = await signToken(key, { subject: "face", kind: "service" });
      const user = await signToken(key, { subject: "user-1", kind: "user" });
      assert.equal((await connect11.echoFromService({ message: "m" }, { headers: bearer(payments) })).serviceName, "payments");
      const paymentsForLedger = await signToken(key, { subject: "payments", kind: "service", audience: "ledger" });
      await assert.rejects(connect11.echoFromService({}, { headers: bearer(paymentsForLedger) }), (error: ConnectError) => {
        assert.equal(error.code, Code.Unauthenticated);
        assert.equal(error.findDetails(ErrorInfoSchema)[0]?.reason, "TOKEN_WRONG_AUDIENCE");
        return true;
      });
      await assert.rejects(
        connect11.echoFromService({}, { headers: bearer(face) }),
        (error: ConnectError) => error.code === Code.PermissionDenied,
      );
      await assert.rejects(
        connect11.echoFromService({}, { headers: bearer(user) }),
        (error: ConnectError) => error.code === Code.PermissionDenied,
      );
    });

    it("admits a service token only to the methods its scope names", async () => {
      const exact = await signToken(key, {
        subject: "payments",
        kind: "service",
        scopes: ["trustmesh.testing.v1.EchoService/EchoFromService"],
      });
      assert.equal((await connect11.echoFromService({ message: "m" }, { headers: bearer(exact) })).serviceName, "payments");
      for (const scopes of [["trustmesh.testing.v1.EchoService/Echo"], ["trustmesh.ledger.v1.LedgerService/*"], []]) {
        const narrow = await signToken(key, { subject: "payments", kind: "service", scopes });
        await assert.rejects(connect11.echoFromService({}, { headers: bearer(narrow) }), (error: ConnectError) => {
          assert.equal(error.code, Code.PermissionDenied);
          assert.equal(error.findDetails(ErrorInfoSchema)[0]?.reason, "OUT_OF_SCOPE");
          return true;
        });
      }
    });
  });

  describe("errors and deadlines", () => {
    it("maps domain errors to their code with an ErrorInfo reason", async () => {
      await assert.rejects(connect11.echo({ message: "x", behaviour: "not_found" }), (error: ConnectError) => {
        assert.equal(error.code, Code.NotFound);
        assert.equal(error.findDetails(ErrorInfoSchema)[0]?.reason, "NOT_FOUND");
        return true;
      });
    });

    it("returns INTERNAL for unexpected errors without leaking their message", async () => {
      for (const call of [
        () => connect11.echo({ behaviour: "internal" }),
        () => grpcJsUnary(grpcClient, methods.echo, { behaviour: "internal" }),
      ]) {
        await assert.rejects(call(), (error: Error & { code: number }) => {
          assert.equal(error.code, Code.Internal);
          assert.doesNotMatch(error.message, /hunter2/);
          return true;
        });
      }
    });

    it("ends a call that outlives its deadline with DEADLINE_EXCEEDED, even if the handler ignores it", async () => {
      const startedAt = Date.now();
      await assert.rejects(
        grpcJsUnary(grpcClient, methods.echo, { behaviour: "sleep", sleepMs: 3000 }, { timeoutMs: 300 }),
        (error: GrpcJsError) => error.code === grpc.status.DEADLINE_EXCEEDED,
      );
      // The server's default deadline (2 s in this server) applies when the caller sets none.
      await assert.rejects(
        connect11.echo({ behaviour: "sleep", sleepMs: 4000 }),
        (error: ConnectError) => error.code === Code.DeadlineExceeded,
      );
      assert.ok(Date.now() - startedAt < 3500, "the default deadline cut the call short");
      // Both calls count as what their callers got, not as the handlers' late success.
      const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
      const deadlineExceeded = /rpc_server_requests_total\{[^}]*method="Echo",code="DEADLINE_EXCEEDED"[^}]*\} (\d+)/.exec(metrics);
      assert.equal(deadlineExceeded?.[1], "2", "one DEADLINE_EXCEEDED from each port");
    });
    it("aborts a unary handler's signal when its caller cancels over grpc-js, and when its deadline passes", async () => {
      const { started, reasons } = { started: echoCalls.started, reasons: echoCalls.abortReasons.length };
      const call = grpcClient.makeUnaryRequest(
        `/${EchoService.typeName}/Echo`,
        (message: MessageShape<typeof methods.echo.input>) => Buffer.from(toBinary(methods.echo.input, message)),
        (bytes: Buffer) => fromBinary(methods.echo.output, bytes),
        create(methods.echo.input, { behaviour: "until_aborted", sleepMs: 10_000 }),
        () => {},
      );
      await waitFor(() => echoCalls.started > started);
      call.cancel();
      await waitFor(() => echoCalls.abortReasons.length > reasons);
      assert.equal(ConnectError.from(echoCalls.abortReasons[reasons]).code, Code.Canceled);

      // No deadline from the caller: the server's default (2 s here) ends it.
      await assert.rejects(
        grpcJsUnary(grpcClient, methods.echo, { behaviour: "until_aborted", sleepMs: 10_000 }),
        (error: GrpcJsError) => error.code === grpc.status.DEADLINE_EXCEEDED,
      );
      await waitFor(() => echoCalls.abortReasons.length > reasons + 1);
      assert.equal(ConnectError.from(echoCalls.abortReasons[reasons + 1]).code, Code.DeadlineExceeded);
    });
  });

  describe("health, metrics and CORS", () => {
    it("answers grpc.health.v1 Check over grpc-js and Watch follows readiness", async () => {
      const overall = await grpcJsUnary(grpcClient, Health.method.check, { service: "" });
      assert.equal(overall.status, HealthCheckResponse_ServingStatus.SERVING);
      const echo = await grpcJsUnary(grpcClient, Health.method.check, { service: "trustmesh.testing.v1.EchoService" });
      assert.equal(echo.status, HealthCheckResponse_ServingStatus.SERVING);
      await assert.rejects(
        grpcJsUnary(grpcClient, Health.method.check, { service: "nope.Service" }),
        (error: GrpcJsError) => error.code === grpc.status.NOT_FOUND,
      );

      const seen: HealthCheckResponse_ServingStatus[] = [];
      const watched = grpcJsServerStream(
        grpcClient,
        Health.method.watch,
        { service: "" },
        {
          limit: 3,
          onMessage: (message) => {
            seen.push(message.status);
            // Take the dependency down after the first answer, and back up after the second.
            healthy = seen.length !== 1;
          },
        },
      );
      const statuses = (await watched).map((message) => message.status);
      assert.deepEqual(statuses, [
        HealthCheckResponse_ServingStatus.SERVING,
        HealthCheckResponse_ServingStatus.NOT_SERVING,
        HealthCheckResponse_ServingStatus.SERVING,
      ]);
      const ready = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
      assert.equal(ready.status, 200);
    });

    it('answers SERVING for "liveness" while a dependency is down, which readiness does not', async () => {
      // Kubernetes' liveness probe asks for "liveness": a database outage must not restart every pod.
      healthy = false;
      try {
        await waitFor(
          async () =>
            (await grpcJsUnary(grpcClient, Health.method.check, { service: "" })).status === HealthCheckResponse_ServingStatus.NOT_SERVING,
        );
        const liveness = await grpcJsUnary(grpcClient, Health.method.check, { service: "liveness" });
        assert.equal(liveness.status, HealthCheckResponse_ServingStatus.SERVING);
      } finally {
        healthy = true;
        await waitFor(
          async () =>
            (await grpcJsUnary(grpcClient, Health.method.check, { service: "" })).status === HealthCheckResponse_ServingStatus.SERVING,
        );
      }
    });

    it("exposes the per-RPC counter and histogram on /metrics after a call", async () => {
      await grpcJsUnary(grpcClient, methods.echo, { message: "count me" });
      const response = await fetch(`http://127.0.0.1:${server.adminPort}/metrics`);
      assert.match(response.headers.get("content-type") ?? "", /openmetrics/);
      const body = await response.text();
      assert.match(body, /rpc_server_requests_total\{service="trustmesh\.testing\.v1\.EchoService",method="Echo",code="OK"[^}]*\} [1-9]/);
      assert.match(body, /rpc_server_duration_seconds_bucket\{[^}]*method="Echo"[^}]*code="OK"[^}]*\} [1-9]/);
      assert.match(body, /rpc_server_requests_total\{[^}]*method="EchoAuthenticated",code="UNAUTHENTICATED"/);
      assert.match(body, /# \{trace_id="[0-9a-f]{32}"\}/, "histogram buckets carry trace-id exemplars");
      assert.match(body, /process_cpu_seconds_total/);
    });

    it("serves registered GET routes on the Connect port beside the RPCs, HEAD without a body, failures as a bare 500", async () => {
      const base = `http://127.0.0.1:${server.httpPort}`;
      const fixed = await fetch(`${base}/.well-known/echo.json`);
      assert.equal(fixed.status, 200);
      assert.equal(fixed.headers.get("cache-control"), "max-age=60");
      assert.deepEqual(await fixed.json(), { echo: true });
      const withParameter = await fetch(`${base}/documents/d-7?ignored=1`, { headers: { "if-none-match": '"d-6"' } });
      assert.equal(withParameter.headers.get("etag"), '"d-7"');
      assert.equal(await withParameter.text(), 'document d-7, if-none-match "d-6"');
      const head = await fetch(`${base}/documents/d-8`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");
      const broken = await fetch(`${base}/broken`);
      assert.equal(broken.status, 500);
      assert.doesNotMatch(await broken.text(), /secret/);
      // A POST to a route's path, and GETs elsewhere, still go to Connect, which refuses them as before.
      assert.notEqual((await fetch(`${base}/.well-known/echo.json`, { method: "POST", body: "{}" })).status, 200);
      assert.notEqual((await fetch(`${base}/documents`)).status, 200);
      const rpc = await fetch(`${base}/trustmesh.testing.v1.EchoService/Echo`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "still here" }),
      });
      assert.equal(rpc.status, 200);
    });

    it("answers CORS preflights for allowed origins only", async () => {
      const preflight = (origin: string) =>
        fetch(`http://127.0.0.1:${server.httpPort}/trustmesh.testing.v1.EchoService/Echo`, {
          method: "OPTIONS",
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,connect-protocol-version,authorization",
          },
        });
      const allowed = await preflight("http://console.example");
      assert.equal(allowed.headers.get("access-control-allow-origin"), "http://console.example");
      assert.match(allowed.headers.get("access-control-allow-headers") ?? "", /authorization/i);
      const refused = await preflight("http://evil.example");
      assert.equal(refused.headers.get("access-control-allow-origin"), null);
    });
  });

  it("drains on shutdown: health goes NOT_SERVING and an in-flight call still completes", async () => {
    const draining = await startEchoServer({ jwksUrl: jwks.url });
    const client = createGrpcJsClient(`127.0.0.1:${draining.grpcPort}`);
    try {
      const started = echoCalls.started;
      const inFlight = grpcJsUnary(client, methods.echo, { behaviour: "sleep", sleepMs: 300, message: "late" });
      await waitFor(() => echoCalls.started > started);
      const stopped = draining.shutdown(2000);
      assert.equal(draining.health.isServing(), false);
      assert.equal((await inFlight).message, "late");
      await stopped;
    } finally {
      client.close();
    }
  });
});
