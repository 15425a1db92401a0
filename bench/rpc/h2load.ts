// Drives load with h2load (nghttp2) and reads its summary. h2load is C and
// single-threaded here (-t 1), pinned to the core the server does not use, so
// the number measured is the server's, not the load generator's.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { clockTicksPerSecond } from "./machine-load.ts";

export interface LoadOptions {
  url: string;
  bodyPath: string;
  headers: Record<string, string>;
  /** HTTP/2: connections, each with `streams` concurrent streams. HTTP/1.1: connections. */
  clients: number;
  /** HTTP/2 only: concurrent streams per connection. HTTP/1.1 has one request in flight per connection. */
  streams: number;
  http1: boolean;
  durationSeconds: number;
  /** CPU to pin h2load to, or undefined to leave it unpinned. */
  cpu: number | undefined;
}

export interface LoadResult {
  requestsPerSecond: number;
  started: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timedOut: number;
  status2xx: number;
  statusNon2xx: number;
  meanLatencyMs: number;
  /** h2load CPU time over wall time; near 1 would mean the load generator, not the server, set the pace. */
  loadCpuShare: number;
  loadCpuMs: number;
  /** h2load's own summary, kept for the record when a check fails. */
  summary: string;
}

export const h2loadPath = "/usr/bin/h2load";

export function h2loadArguments(options: LoadOptions): string[] {
  const headerArguments = Object.entries(options.headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]);
  const concurrency = options.http1
    ? ["--h1", "-c", String(options.clients), "-m", "1"]
    : ["-c", String(options.clients), "-m", String(options.streams)];
  return ["-t", "1", ...concurrency, "-D", String(options.durationSeconds), "-d", options.bodyPath, ...headerArguments, options.url];
}

function toMs(value: string, unit: string): number {
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };
  const factor = scale[unit];
  if (factor === undefined) throw new Error(`unknown h2load time unit '${unit}'`);
  return Number(value) * factor;
}

/**
 * CPU milliseconds used by this process's finished children (fields cutime and
 * cstime of /proc/self/stat). Only h2load finishes during a load run (servers
 * are reaped when stopped), so the difference across a run is h2load's.
 */
function finishedChildrenCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / clockTicksPerSecond;
}

export function parseH2loadOutput(output: string): Omit<LoadResult, "loadCpuShare" | "loadCpuMs"> {
  const finished = /finished in [\d.]+s, ([\d.]+) req\/s/.exec(output);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
    output,
  );
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  const latency = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(output);
  if (!finished || !requests || !statuses || !latency) throw new Error(`cannot read h2load's summary:\n${output}`);
  const summary = output.slice(output.indexOf("finished in"));
  return {
    requestsPerSecond: Number(finished[1]),
    started: Number(requests[2]),
    done: Number(requests[3]),
    succeeded: Number(requests[4]),
    failed: Number(requests[5]),
    errored: Number(requests[6]),
    timedOut: Number(requests[7]),
    status2xx: Number(statuses[1]),
    statusNon2xx: Number(statuses[2]) + Number(statuses[3]) + Number(statuses[4]),
    meanLatencyMs: toMs(latency[5] as string, latency[6] as string),
    summary,
  };
}

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const args = h2loadArguments(options);
  const [command, commandArgs] =
    options.cpu === undefined ? [h2loadPath, args] : ["taskset", ["-c", String(options.cpu), h2loadPath, ...args]];
  const cpuBeforeMs = finishedChildrenCpuMs();
  const startedAtMs = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      command,
      commandArgs,
      { maxBuffer: 16 * 1024 * 1024, timeout: (options.durationSeconds + 60) * 1000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`h2load failed: ${error.message}\n${stdout}\n${stderr}`));
        try {
          const loadCpuMs = finishedChildrenCpuMs() - cpuBeforeMs;
          resolve({ ...parseH2loadOutput(stdout), loadCpuShare: loadCpuMs / (performance.now() - startedAtMs), loadCpuMs });
        } catch (parseError) {
          reject(parseError);
        }
      },
    );
  });
}
