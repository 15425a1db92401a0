// What the numbers were measured on, written beside them: benchmark results
// from different machines or runtimes are not comparable.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import { h2loadPath } from "./h2load.ts";

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  kernel: string;
  nodeVersion: string;
  h2loadVersion: string;
  grpcJsVersion: string;
  commit: string;
  /** Hash of the measured sources (source-fingerprint.ts), the same for every measurement of a run. */
  sourceFingerprint: string;
}

function tryCommand(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((candidate) => candidate.startsWith("model name"));
    if (line) return line.slice(line.indexOf(":") + 1).trim();
  } catch {
    // Not Linux; os.cpus() below still knows.
  }
  return os.cpus()[0]?.model ?? "unknown";
}

export function machineInfo(repoRoot: string, sourceFingerprint: string): MachineInfo {
  const require = createRequire(import.meta.url);
  const grpcJsPackage = require("@grpc/grpc-js/package.json") as { version: string };
  const head = tryCommand("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"]) ?? "unknown";
  // Other work may be in progress in the tree; say so, since it may touch the runtime.
  const dirty = tryCommand("git", ["-C", repoRoot, "status", "--porcelain", "--", "packages/runtime", "packages/api"]);
  return {
    cpuModel: cpuModel(),
    cpuCount: os.availableParallelism(),
    kernel: `${os.type()} ${os.release()}`,
    nodeVersion: process.version,
    h2loadVersion: tryCommand(h2loadPath, ["--version"])?.split("\n")[0] ?? "unknown",
    grpcJsVersion: grpcJsPackage.version,
    commit: dirty ? `${head} (packages/runtime or packages/api modified in the working tree)` : head,
    sourceFingerprint,
  };
}
