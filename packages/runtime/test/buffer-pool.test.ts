// Goal: every process started with the services' preload
// (`node --import @trustmesh/runtime/telemetry`) cuts no small Buffer from a
// shared pool, so a small Buffer kept alive keeps only its own bytes; a
// process without the preload still pools (the check is one that can fail).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The bytes behind small Buffers made the ways services make them. */
const backingSizes = `
  console.log(JSON.stringify({
    poolSize: Buffer.poolSize,
    allocUnsafe: Buffer.allocUnsafe(100).buffer.byteLength,
    fromString: Buffer.from("a short string").buffer.byteLength,
    fromBytes: Buffer.from(new Uint8Array(200)).buffer.byteLength,
  }));
`;

async function sizes(preload: string[]): Promise<Record<string, number>> {
  const { stdout } = await run(process.execPath, [...preload, "-e", backingSizes], {
    // The preload starts the OpenTelemetry SDK; nothing here needs it to export.
    env: { ...process.env, OTEL_SDK_DISABLED: "true" },
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
}

describe("Buffer pool of service processes", () => {
  it("cuts small Buffers from one shared pool without the preload", async () => {
    const { poolSize, ...backing } = await sizes([]);
    assert.ok(poolSize !== undefined && poolSize >= 8192, `a pool of at least 8 KB, got ${poolSize}`);
    assert.deepEqual(backing, { allocUnsafe: poolSize, fromString: poolSize, fromBytes: poolSize });
  });

  it("gives every small Buffer bytes of its own in a process started with the preload", async () => {
    assert.deepEqual(await sizes(["--import", "@trustmesh/runtime/telemetry"]), {
      poolSize: 0,
      allocUnsafe: 100,
      fromString: 14,
      fromBytes: 200,
    });
  });
});
