// bench/ledger/gc-trace.ts reads V8's --trace-gc-nvp lines, whose format is
// V8's and may change with any Node release: these tests read the lines of
// the Node that runs them, made by the same preload profile.ts uses.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { fullCollections, phaseNames } from "../ledger/gc-trace.ts";

const preload = pathToFileURL(path.join(import.meta.dirname, "..", "ledger", "gc-trace-preload.ts")).href;

/** The output lines of a Node process that runs `script` under the preload. */
function tracedLines(script: string): { lines: string[]; startedMs: number; endedMs: number } {
  const startedMs = Date.now();
  const child = spawnSync(process.execPath, ["--expose-gc", "--import", preload, "--eval", script], { encoding: "utf8" });
  assert.equal(child.status, 0, child.stderr);
  return { lines: child.stdout.split("\n"), startedMs, endedMs: Date.now() };
}

describe("bench/ledger/gc-trace", () => {
  it("finds every forced full collection with its pause and phases, on the wall clock", () => {
    const { lines, startedMs, endedMs } = tracedLines("for (let i = 0; i < 3; i++) globalThis.gc();");
    const collections = fullCollections(lines);
    // V8 may add collections of its own; the three forced ones are there.
    assert.ok(collections.length >= 3, `found ${collections.length} full collections in:\n${lines.join("\n")}`);
    for (const collection of collections) {
      assert.ok(collection.pauseMs > 0 && collection.pauseMs < 10_000, `pause ${collection.pauseMs} ms`);
      assert.ok(collection.atMs >= startedMs - 1000 && collection.atMs <= endedMs, `at ${collection.atMs}, run ${startedMs}–${endedMs}`);
      for (const name of phaseNames) {
        const phase = collection.phasesMs[name];
        assert.ok(Number.isFinite(phase) && phase >= 0, `phase ${name} read as ${phase}`);
      }
    }
  });

  it("ignores young collections", () => {
    // Short-lived garbage: scavenges, and no full collection is asked for.
    const { lines } = tracedLines("let kept = []; for (let i = 0; i < 2e6; i++) kept = [i, kept.length];");
    const young = lines.filter((line) => /\bgc=s\b/.test(line));
    assert.ok(young.length > 0, `no young collection in:\n${lines.join("\n")}`);
    const origin = lines.filter((line) => line.startsWith("gc-trace-origin-ms "));
    assert.deepEqual(fullCollections([...origin, ...young]), []);
  });

  it("refuses lines without the preload's origin", () => {
    assert.throws(() => fullCollections(["  123 ms: pause=1.0 gc=mc"]), /no gc-trace-origin-ms line/);
  });
});
