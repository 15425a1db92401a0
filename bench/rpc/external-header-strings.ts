// bench/rpc/external-header-strings.ts: what a bare node:http2 server keeps,
// outside V8's heap, for each request it has answered, until its next full
// garbage collection, by the length of one request header value. Node hands
// long received header values to V8 as external strings (their bytes stay in
// nghttp2's buffers); a gRPC call's `authorization: Bearer <JWT>` is one. On
// Node 24.21 every such value outlived the young collections, whole, and a
// full collection frees them all in its pause (63 bytes: 79 bytes kept per
// request, whatever the header; 700: 715; 2,000: 2,015).
// services/ledger/README.md, "Session 12", says what that costs the ledger.
//
// This process serves; a child process (this file with --client) sends the
// requests, so the server's numbers hold the server's strings only. Young
// collections are forced after each burst; what they leave is what waits for
// a full collection.
//
//   node bench/rpc/external-header-strings.ts [--requests 10000]
import { fork } from "node:child_process";
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { positiveInteger } from "./run-options.ts";

const { values: options } = parseArgs({
  options: { requests: { type: "string", default: "10000" }, client: { type: "string" }, length: { type: "string" } },
});
const requests = positiveInteger("requests", options.requests, 1_000_000);

/** The client: `requests` requests, 50 at a time, each with an `authorization` value of `length` bytes. */
async function sendRequests(port: string, length: number): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const authorization = `Bearer ${"x".repeat(length - "Bearer ".length)}`;
  for (let sent = 0; sent < requests; sent += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, requests - sent) }, () => {
        const request = session.request({ ":path": "/", authorization });
        request.resume();
        request.end();
        return once(request, "close");
      }),
    );
  }
  session.close();
}

async function serve(): Promise<void> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (options?: { type: "minor" | "major" }) => void;
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    stream.end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = String((server.address() as AddressInfo).port);
  const burst = async (length: number) => {
    const child = fork(import.meta.filename, ["--client", port, "--length", String(length), "--requests", String(requests)]);
    const [code] = await once(child, "exit");
    if (code !== 0) throw new Error(`the client exited with ${code}`);
  };

  console.log(`${requests} requests per row, each answered before the next batch of 50 is sent`);
  console.log("| authorization bytes | external bytes per request left after young GCs | freed by the next full GC |");
  console.log("| ---: | ---: | ---: |");
  for (const length of [63, 700, 2000]) {
    gc({ type: "major" });
    const before = process.memoryUsage().external;
    await burst(length);
    for (let round = 0; round < 3; round++) gc({ type: "minor" });
    const afterYoung = process.memoryUsage().external;
    gc({ type: "major" });
    const afterFull = process.memoryUsage().external;
    console.log(`| ${length} | ${((afterYoung - before) / requests).toFixed(0)} | ${((afterYoung - afterFull) / 1e6).toFixed(2)} MB |`);
  }
  server.close();
}

if (options.client === undefined) await serve();
else await sendRequests(options.client, positiveInteger("length", options.length, 1_000_000));
