// Goal: clients made by createServiceClient carry the caller's service token
// (fetched once and shared), inherit the remaining deadline of the RPC being
// handled, and count their calls in rpc_client_* metrics.
import assert from "node:assert/strict";
import { Code, type ConnectError } from "@connectrpc/connect";
import { callScopeStorage } from "../src/call-scope.ts";
import { createMetrics, createServiceClient, createServiceTokenProvider, type RunningServer } from "../src/index.ts";
import { startEchoServer } from "./support/echo-server.ts";
import { EchoService } from "./support/echo-service.ts";
import { createTestKey, type JwksServer, signToken, startJwksServer } from "./support/tokens.ts";

describe("createServiceClient", () => {
  let jwks: JwksServer;
  let server: RunningServer;
  let token: string;

  before(async () => {
    const key = await createTestKey("client-key");
    jwks = await startJwksServer([key]);
    server = await startEchoServer({ jwksUrl: jwks.url });
    token = await signToken(key, { subject: "payments", kind: "service", audience: "echo" });
  });

  after(async () => {
    await server.shutdown(1000);
    await jwks.close();
  });

  it("attaches the service token, fetching it once for concurrent calls", async () => {
    let fetches = 0;
    const serviceToken = createServiceTokenProvider(async () => {
      fetches++;
      return { token, expiresAtMs: Date.now() + 300_000 };
    });
    const client = createServiceClient(EchoService, { baseUrl: `http://127.0.0.1:${server.grpcPort}`, serviceToken });
    const answers = await Promise.all([1, 2, 3].map((n) => client.echoFromService({ message: `m${n}` })));
    assert.deepEqual(
      answers.map((answer) => answer.serviceName),
      ["payments", "payments", "payments"],
    );
    assert.equal(fetches, 1);
  });

  it("inherits the remaining deadline of the RPC being handled", async () => {
    const client = createServiceClient(EchoService, { baseUrl: `http://127.0.0.1:${server.grpcPort}` });
    const startedAt = Date.now();
    const scope = { deadlineAtMs: Date.now() + 300, signal: new AbortController().signal };
    await assert.rejects(
      callScopeStorage.run(scope, () => client.echo({ behaviour: "sleep", sleepMs: 1500 })),
      (error: ConnectError) => error.code === Code.DeadlineExceeded,
    );
    assert.ok(Date.now() - startedAt < 1200, "the inherited deadline, not the handler, ended the call");
  });

  it("counts its calls in rpc_client_requests_total", async () => {
    const metrics = createMetrics({ serviceName: "caller" });
    const client = createServiceClient(EchoService, { baseUrl: `http://127.0.0.1:${server.grpcPort}`, metrics });
    await client.echo({ message: "counted" });
    await assert.rejects(client.echoAdmin({ message: "refused" }));
    const body = await metrics.registry.metrics();
    assert.match(body, /rpc_client_requests_total\{service="trustmesh\.testing\.v1\.EchoService",method="Echo",code="OK"[^}]*\} 1/);
    assert.match(body, /rpc_client_requests_total\{[^}]*method="EchoAdmin",code="UNAUTHENTICATED"[^}]*\} 1/);
  });
});
