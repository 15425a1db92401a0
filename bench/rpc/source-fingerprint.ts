// A hash of the code under measurement. Other engineers edit the runtime while
// benchmarks run, and every measurement starts a fresh server that loads
// whatever is on disk; a run whose rounds measured different code would
// compare nothing, so the harness checks this before each measurement.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

/** What the servers load besides node_modules: the runtime, its test support, the generated API. */
const measuredDirectories = ["packages/runtime/src", "packages/runtime/test/support", "packages/api/src"];

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

export function sourceFingerprint(repoRoot: string): string {
  const hash = createHash("sha256");
  for (const directory of measuredDirectories) {
    for (const file of filesUnder(path.join(repoRoot, directory))) {
      hash.update(path.relative(repoRoot, file));
      hash.update("\0");
      hash.update(readFileSync(file));
      hash.update("\0");
    }
  }
  return hash.digest("hex").slice(0, 12);
}

/** Throws when the measured code changed since `expected` was taken. */
export function assertSourceUnchanged(repoRoot: string, expected: string): void {
  const now = sourceFingerprint(repoRoot);
  if (now !== expected) {
    throw new Error(
      `the measured code (${measuredDirectories.join(", ")}) changed during the run (${expected} → ${now}); ` +
        "results would mix versions, so none are written. Run again once the tree is quiet.",
    );
  }
}
