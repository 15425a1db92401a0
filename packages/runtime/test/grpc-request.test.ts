// Goal: the request a unary grpc-js call starts its interceptor chain from
// carries its signal as an own, enumerable property read on demand, so an
// interceptor that copies the request (`{ ...request }`) hands the handler a
// signal that still aborts when the caller cancels, and a copy made before
// anything asked for the signal gets the same signal the handler sees.
import assert from "node:assert/strict";
import { create, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import { startEchoGrpcPort } from "./support/echo-server.ts";
import { EchoService, echoCalls, echoServiceImpl } from "./support/echo-service.ts";

const echo = EchoService.method.echo;

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("grpc-js unary request", () => {
  let client: grpc.Client;
  let stop: () => Promise<void>;
  /** Whether each request reached the copying interceptor with signal as an own enumerable property. */
  const signalOwnAndEnumerable: boolean[] = [];

  before(async () => {
    const copying: Interceptor = (next) => (request) => {
      signalOwnAndEnumerable.push(Object.keys(request).includes("signal"));
      return next({ ...request });
    };
    ({ client, stop } = await startEchoGrpcPort(echoServiceImpl, [copying]));
  });

  after(() => stop());

  it("answers through an interceptor that copies the request", async () => {
    const answer = await grpcJsUnary(client, echo, { message: "copied" });
    assert.equal(answer.message, "copied");
    assert.equal(signalOwnAndEnumerable.at(-1), true);
  });

  it("aborts the signal of a copied request when the caller cancels", async () => {
    const started = echoCalls.started;
    const reasons = echoCalls.abortReasons.length;
    const call = client.makeUnaryRequest(
      `/${EchoService.typeName}/Echo`,
      (message: MessageShape<typeof echo.input>) => Buffer.from(toBinary(echo.input, message)),
      (bytes: Buffer) => fromBinary(echo.output, bytes),
      create(echo.input, { behaviour: "until_aborted", sleepMs: 10_000 }),
      () => {},
    );
    await waitFor(() => echoCalls.started > started);
    call.cancel();
    await waitFor(() => echoCalls.abortReasons.length > reasons);
    assert.equal(ConnectError.from(echoCalls.abortReasons[reasons]).code, Code.Canceled);
  });
});
