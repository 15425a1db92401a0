// `npm test`: every test of every workspace, one workspace at a time (the
// end-to-end suites start many processes, and this machine has two cores).
// Each suite starts its own throwaway PostgreSQL, Redis and services.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const mocha = join(root, "node_modules", "mocha", "bin", "mocha.js");

/** Workspaces with a mocha config and at least one test file. */
function hasTests(dir: string): boolean {
  const testDir = dir.endsWith("/test") ? dir : join(dir, "test");
  if (!existsSync(join(dir, ".mocharc.json")) || !existsSync(testDir)) return false;
  return readdirSync(testDir, { recursive: true, encoding: "utf8" }).some((file) => file.endsWith(".test.ts"));
}

const workspaces = [
  ...readdirSync(join(root, "packages")).map((name) => join(root, "packages", name)),
  ...readdirSync(join(root, "services")).map((name) => join(root, "services", name)),
  join(root, "deploy"),
  join(root, "observability"),
  join(root, "bench"),
  join(root, "test"),
].filter(hasTests);

const failed: string[] = [];
for (const dir of workspaces) {
  console.log(`\n=== ${relative(root, dir)} ===`);
  const result = spawnSync(process.execPath, [mocha], { cwd: dir, stdio: "inherit" });
  if (result.status !== 0) failed.push(relative(root, dir));
}
if (failed.length > 0) {
  console.error(`\nFailed: ${failed.join(", ")}`);
  process.exit(1);
}
console.log(`\nAll ${workspaces.length} test suites passed.`);
