// Goal: prove the output a test prints when a server fails reads as the
// server wrote it, even when a pipe hands a character's bytes over in two
// chunks (a multi-byte character in a log line, split by the kernel).
import assert from "node:assert/strict";
import { once } from "node:events";
import { runToCompletion, spawnServer } from "../src/server-process.ts";

// Writes the first byte of "€" (E2 82 AC), then the rest 100 ms later, so the reader sees two chunks.
const splitEuro =
  "process.stdout.write(Buffer.from([0xe2])); setTimeout(() => process.stdout.write(Buffer.from([0x82, 0xac, 0x0a])), 100);";

describe("server output", () => {
  it("keeps a server's log tail whole across a character split between chunks", async () => {
    const server = spawnServer({ command: process.execPath, args: ["--eval", splitEuro], parentDeathSignal: "SIGTERM" });
    // "close" comes after the pipes have delivered everything; "exit" may come before.
    const closed = once(server.child, "close");
    assert.equal(await server.exited, "0");
    await closed;
    assert.equal(server.logTail(), "€\n");
  });

  it("keeps a command's output whole across a character split between chunks", async () => {
    assert.equal(await runToCompletion(process.execPath, ["--eval", splitEuro], { timeoutMs: 10_000 }), "€\n");
  });
});
