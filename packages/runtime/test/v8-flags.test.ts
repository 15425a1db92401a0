// Goal: every process started with the services' preload
// (`node --import @trustmesh/runtime/telemetry`) runs with V8's allocation-site
// pretenuring off. V8 has no API to read a flag back, so the test watches the
// behaviour: a workload whose object literals all survive young collections
// makes V8 trace a pretenuring decision (`--trace-pretenuring-statistics`)
// without the preload, and none with it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Keeps 8 million literals from one allocation site alive across many scavenges. */
const survivingLiterals = `
  const kept = [];
  const make = (i) => ({ i, next: null });
  for (let round = 0; round < 40; round++) for (let i = 0; i < 200000; i++) kept.push(make(i));
  console.log("kept " + kept.length);
`;

async function pretenuringTrace(preload: string[]): Promise<string[]> {
  const { stdout } = await run(process.execPath, ["--trace-pretenuring-statistics", ...preload, "-e", survivingLiterals], {
    // The preload starts the OpenTelemetry SDK; nothing here needs it to export.
    env: { ...process.env, OTEL_SDK_DISABLED: "true" },
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.match(stdout, /kept 8000000/);
  return stdout.split("\n").filter((line) => line.includes("pretenuring:"));
}

describe("V8 flags of service processes", () => {
  it("leaves V8 free to pretenure without the preload (the workload is one that it would)", async () => {
    const trace = await pretenuringTrace([]);
    assert.ok(
      trace.some((line) => /=> (maybe tenure|tenure)/.test(line)),
      `expected a pretenuring decision, got:\n${trace.join("\n")}`,
    );
  });

  it("turns allocation-site pretenuring off in every process started with the preload", async () => {
    const trace = await pretenuringTrace(["--import", "@trustmesh/runtime/telemetry"]);
    assert.deepEqual(trace, []);
  });
});
