// Command-line and machine set-up shared by run.ts and ablation.ts.
import { existsSync, readFileSync } from "node:fs";

export const resultsHeader =
  "# bench/rpc results\n\nNewest last. Each section is one run of the command it names; bench/README.md explains the columns.\n\n";

export function positiveInteger(name: string, value: string | undefined, max: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > max)
    throw new Error(`--${name} must be an integer from 1 to ${max}, not '${value}'`);
  return parsed;
}

/** CPUs this process may run on, from the kernel's affinity list ("0-1", "0,2-3"). */
function allowedCpus(): number[] {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((candidate) => candidate.startsWith("Cpus_allowed_list:"));
  if (!line) return [];
  return line
    .slice(line.indexOf(":") + 1)
    .trim()
    .split(",")
    .flatMap((range) => {
      const [first, last] = range.split("-").map(Number) as [number, number | undefined];
      return Array.from({ length: (last ?? first) - first + 1 }, (_, offset) => first + offset);
    });
}

/**
 * The server gets one CPU and h2load another, so neither steals the other's
 * time; without taskset or a second CPU both run unpinned, and results say so.
 */
export function pinnedCpus(): { serverCpu: number | undefined; loadCpu: number | undefined } {
  const cpus = allowedCpus();
  if (!existsSync("/usr/bin/taskset") || cpus.length < 2) return { serverCpu: undefined, loadCpu: undefined };
  return { serverCpu: cpus[0], loadCpu: cpus[1] };
}

/** Benchmarks are only comparable on the Node the services run on (DESIGN.md §3). */
export function requireNode24(): void {
  if (!process.version.startsWith("v24.")) {
    throw new Error(`bench/rpc runs on Node 24 (DESIGN.md §3), not ${process.version}; use node_modules/.bin/node`);
  }
}
