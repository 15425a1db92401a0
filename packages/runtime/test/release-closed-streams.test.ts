// Goal: once an HTTP/2 stream has closed — on the server and on the client,
// after a call that succeeded or failed — it holds no listener but a harmless
// 'error' one, so the call it carried is no longer reachable through it, and
// an error emitted on it afterwards crashes nothing.
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Http2Stream } from "node:http2";
import type * as grpc from "@grpc/grpc-js";
import { grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import { releaseClosedHttp2Streams } from "../src/index.ts";
import { startEchoGrpcPort } from "./support/echo-server.ts";
import { EchoService, echoServiceImpl } from "./support/echo-service.ts";

const echo = EchoService.method.echo;
const channels = ["http2.server.stream.close", "http2.client.stream.close"];

/** Waits until callbacks queued with setImmediate (the release) have run. */
const nextTurn = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

function listenersOf(stream: Http2Stream): Record<string, number> {
  return Object.fromEntries(stream.eventNames().map((name) => [String(name), stream.listenerCount(name)]));
}

describe("releasing closed HTTP/2 streams", () => {
  const closed: { channel: string; stream: Http2Stream }[] = [];
  const recorders = channels.map((channel) => ({
    channel,
    record: (message: unknown) => closed.push({ channel, stream: (message as { stream: Http2Stream }).stream }),
  }));
  let client: grpc.Client;
  let stop: () => Promise<void>;

  before(async () => {
    releaseClosedHttp2Streams();
    for (const { channel, record } of recorders) subscribe(channel, record);
    ({ client, stop } = await startEchoGrpcPort(echoServiceImpl, []));
  });

  after(async () => {
    for (const { channel, record } of recorders) unsubscribe(channel, record);
    await stop();
  });

  beforeEach(() => {
    closed.length = 0;
  });

  async function closedStreamsAfter(call: () => Promise<unknown>) {
    await call();
    // The server's stream may close just after the client has its answer.
    for (let turn = 0; turn < 20 && closed.length < 2; turn++) await nextTurn();
    await nextTurn();
    return closed;
  }

  for (const [outcome, call] of [
    ["succeeded", () => grpcJsUnary(client, echo, { message: "hello" })],
    ["failed", () => assert.rejects(grpcJsUnary(client, echo, { message: "missing", behaviour: "not_found" }))],
  ] as const) {
    it(`leaves only an 'error' listener on both ends of a call that ${outcome}`, async () => {
      const streams = await closedStreamsAfter(call);
      assert.deepEqual(streams.map(({ channel }) => channel).sort(), [...channels].sort());
      for (const { channel, stream } of streams) {
        assert.ok(stream.closed, `${channel}: the stream has closed`);
        assert.deepEqual(listenersOf(stream), { error: 1 }, channel);
      }
    });
  }

  it("lets an error emitted after the release pass without crashing", async () => {
    const streams = await closedStreamsAfter(() => grpcJsUnary(client, echo, { message: "late" }));
    for (const { stream } of streams) assert.doesNotThrow(() => stream.emit("error", new Error("late")));
  });

  it("keeps calls working after many streams were released", async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, index) => grpcJsUnary(client, echo, { message: `m${index}` })));
    assert.deepEqual(
      answers.map((answer) => answer.message),
      Array.from({ length: 200 }, (_, index) => `m${index}`),
    );
  });
});
