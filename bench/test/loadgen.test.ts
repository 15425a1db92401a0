// bench/ledger/loadgen speaks HTTP/2 and gRPC's framing itself
// (loadgen/h2.go). These tests run it, through load.ts as the bench does,
// against a real @grpc/grpc-js server: calls answered, a message larger than
// the server's flow-control windows, the headers a service's callers send, and
// failures counted with the status the server gave. Node's HTTP/2 does not
// hold a client to its windows, so the generator's Go tests (loadgen/h2_test.go,
// run here with `go test`) check flow control against Go's HTTP/2 server,
// which does.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { EchoRequestSchema, EchoResponseSchema, EchoService } from "@trustmesh/api/trustmesh/testing/v1/echo_service_pb.js";
import { closedLoop, openLoop, repeatedRequestWorkload } from "../ledger/load.ts";

const echo = EchoService.method.echo;
/** Larger than HTTP/2's initial 64 KiB windows and its 16 KiB frames, so sending it waits for the server's WINDOW_UPDATEs. */
const largeText = "x".repeat(300_000);

const echoWorkload = (text: string) => repeatedRequestWorkload(echo, toBinary(echo.input, create(echo.input, { message: text })), 2000);

interface Received {
  messageLengths: number[];
  authorizations: string[];
  deadlines: number[];
}

/** A grpc-js server with EchoService/Echo: `fail` answers every call with that status instead. */
async function startEchoServer(fail?: { code: grpc.status; details: string }) {
  const received: Received = { messageLengths: [], authorizations: [], deadlines: [] };
  const server = new grpc.Server();
  server.addService(
    {
      Echo: {
        path: `/${EchoService.typeName}/Echo`,
        requestStream: false,
        responseStream: false,
        requestDeserialize: (bytes: Buffer) => fromBinary(EchoRequestSchema, bytes),
        requestSerialize: () => Buffer.alloc(0),
        responseSerialize: (message: { message: string }) => Buffer.from(toBinary(EchoResponseSchema, create(EchoResponseSchema, message))),
        responseDeserialize: () => ({}),
      },
    },
    {
      Echo: (call: grpc.ServerUnaryCall<{ message: string }, unknown>, callback: grpc.sendUnaryData<{ message: string }>) => {
        received.messageLengths.push(call.request.message.length);
        received.authorizations.push(String(call.metadata.get("authorization")[0]));
        const deadline = call.getDeadline();
        received.deadlines.push(deadline instanceof Date ? deadline.getTime() - Date.now() : Number(deadline) - Date.now());
        if (fail) callback({ code: fail.code, details: fail.details });
        else callback(null, { message: call.request.message.slice(0, 10) });
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { address: `127.0.0.1:${port}`, received, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

const window = { warmUpSeconds: 0.5, durationSeconds: 1, sampleServers: () => ({}) };

describe("bench/ledger/loadgen", function () {
  // The first run builds the generator with Go (and fetches golang.org/x/net once).
  this.timeout(300_000);

  it("sends messages larger than the server's windows and its headers, and times every answer", async () => {
    const server = await startEchoServer();
    try {
      const result = await closedLoop({ address: server.address, token: "token-1", connections: 2 }, echoWorkload(largeText), {
        ...window,
        concurrency: 4,
      });
      assert.equal(result.failures, 0, result.firstFailure);
      assert.ok(result.calls > 0, "calls answered in the window");
      assert.equal(result.latenciesMs.length, result.calls);
      assert.ok(result.latenciesMs.every((ms) => ms > 0 && ms < 10_000));
      // Every call the server took carried the whole message and the caller's bearer token.
      assert.ok(server.received.messageLengths.length >= result.calls);
      assert.ok(server.received.messageLengths.every((length) => length === largeText.length));
      assert.ok(server.received.authorizations.every((value) => value === "Bearer token-1"));
      // And the generator's deadline (30 s by default), as grpc-timeout.
      assert.ok(
        server.received.deadlines.every((ms) => ms > 25_000 && ms <= 30_000),
        `deadlines ${server.received.deadlines.slice(0, 3)}`,
      );
    } finally {
      await server.stop();
    }
  });

  it("passes its own Go tests: flow control against a server that enforces it, timeouts, a lost connection", () => {
    const output = execFileSync("go", ["test", "-count=1", "-timeout=120s", "."], {
      cwd: fileURLToPath(new URL("../ledger/loadgen", import.meta.url)),
      encoding: "utf8",
    });
    assert.match(output, /^ok\s/m);
  });

  it("counts a call the server refused as a failure, with its status and message", async () => {
    const server = await startEchoServer({ code: grpc.status.PERMISSION_DENIED, details: "not for you" });
    try {
      const result = await openLoop({ address: server.address, token: "token-2", connections: 1 }, echoWorkload("hello"), {
        ...window,
        ratePerSecond: 200,
        inFlightMax: 64,
      });
      assert.equal(result.calls, 0);
      assert.ok(result.failures >= 150, `failures ${result.failures} of about 200 due in the window`);
      assert.equal(result.firstFailure, "grpc-status 7: not for you");
    } finally {
      await server.stop();
    }
  });
});
