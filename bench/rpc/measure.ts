// One measurement: start the scenario's server in its own process, prove one
// request succeeds, warm up, measure for a fixed time, then prove from the
// server's own counters that what h2load counted as done was answered OK.
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { serviceNodeArguments } from "../../packages/runtime/src/node-arguments.ts";
import { type LoadResult, runLoad } from "./h2load.ts";
import { machineBusyCpuMs } from "./machine-load.ts";
import { countsIncrease, type RequestCounts, scrapeRequestCounts, seriesKey } from "./metrics-scrape.ts";
import { echoServiceName, type Scenario } from "./scenarios.ts";
import { type ServerProcess, startServerProcess } from "./server-process.ts";
import { assertSourceUnchanged } from "./source-fingerprint.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
export const serverEntries = { bare: path.join(here, "bare-grpc-server.ts"), runtime: path.join(here, "runtime-server.ts") };

/**
 * How a runtime server process starts, as every service does in production:
 * OpenTelemetry loaded first with `node --import @trustmesh/runtime/telemetry`,
 * configured only by the variables given here. The harness's own OTEL_*
 * variables are not passed on, so a run measures the defaults (sampler
 * included) with no exporter, whoever starts it.
 */
export const runtimeNodeFlags = serviceNodeArguments.map((argument) =>
  argument.startsWith("@trustmesh/") ? import.meta.resolve(argument) : argument,
);
export const runtimeTelemetryEnv = { OTEL_SERVICE_NAME: "echo" };

function withoutOtelVariables(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith("OTEL_")));
}

export interface MeasureOptions {
  workDirectory: string;
  jwksUrl: string;
  serverCpu: number | undefined;
  loadCpu: number | undefined;
  clients: number;
  streams: number;
  warmUpSeconds: number;
  durationSeconds: number;
  /** The measured code must still hash to fingerprint (source-fingerprint.ts) before and after. */
  source: { repoRoot: string; fingerprint: string };
  /** When set, the server profiles itself during the measured run and writes the .cpuprofile here. */
  profilePath?: string;
  /** Another server entry than the scenario's, with its environment (ablation.ts). */
  serverOverride?: { entryPath: string; env: Record<string, string>; runtime: boolean };
  /** Distinguishes log files of repeated runs. */
  label: string;
}

export interface Measurement {
  scenario: Scenario;
  load: LoadResult;
  /** Server CPU time over wall time during the measured run; near 1 means the server was the bottleneck. */
  serverCpuShare: number;
  /** Calls the server itself counted as answered OK for the measured run, stragglers included. */
  serverOkCount: number;
  /** Server CPU time per OK answer, in microseconds: the cost of one call, whatever the machine's idle share. */
  serverCpuMicrosPerRequest: number;
  /**
   * CPU the machine spent on anything but the server and h2load, in cores:
   * kernel networking for the loopback traffic, and any other work that would
   * disturb the measurement.
   */
  otherCpuShare: number;
}

interface Snapshot {
  atMs: number;
  cpuMicros: number;
  okCount: number | undefined;
  counts: RequestCounts | undefined;
}

async function snapshot(server: ServerProcess): Promise<Snapshot> {
  const stats = await server.stats();
  const counts = server.ports.adminPort === undefined ? undefined : await scrapeRequestCounts(server.ports.adminPort);
  return { atMs: performance.now(), cpuMicros: stats.cpuMicros, okCount: stats.okCount, counts };
}

function answeredCount(snapshot: Snapshot): number {
  if (snapshot.counts) return [...snapshot.counts.values()].reduce((sum, value) => sum + value, 0);
  return snapshot.okCount ?? 0;
}

/**
 * A snapshot taken once the server has stopped answering: when h2load stops,
 * requests it already sent are still being handled (HTTP/1.1 ones even after
 * their connection closed), and they must land on the right side of the line.
 */
async function settledSnapshot(server: ServerProcess, settleMaxMs = 15_000): Promise<Snapshot> {
  const giveUpAt = performance.now() + settleMaxMs;
  let previous = await snapshot(server);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const current = await snapshot(server);
    if (answeredCount(current) === answeredCount(previous) || performance.now() > giveUpAt) return current;
    previous = current;
  }
}

/** The server's count of OK answers between two snapshots; throws if it answered anything else. */
function serverOkIncrease(scenario: Scenario, before: Snapshot, after: Snapshot): number {
  if (before.counts && after.counts) {
    const increase = countsIncrease(before.counts, after.counts);
    const okKey = seriesKey(echoServiceName, scenario.method, "OK");
    const unexpected = [...increase.entries()].filter(([key]) => key !== okKey);
    if (unexpected.length > 0) {
      throw new Error(
        `${scenario.id}: the server answered other than OK: ${unexpected.map(([key, value]) => `${key} +${value}`).join(", ")}`,
      );
    }
    return increase.get(okKey) ?? 0;
  }
  if (before.okCount === undefined || after.okCount === undefined) throw new Error(`${scenario.id}: the server reports no OK count`);
  return after.okCount - before.okCount;
}

function checkLoad(scenario: Scenario, load: LoadResult, serverOkCount: number): void {
  const problems: string[] = [];
  if (load.succeeded === 0) problems.push("no request succeeded");
  if (load.failed + load.errored + load.timedOut > 0)
    problems.push(`${load.failed} failed, ${load.errored} errored, ${load.timedOut} timed out`);
  if (load.statusNon2xx > 0) problems.push(`${load.statusNon2xx} non-2xx answers`);
  // Requests still in flight when h2load stopped (started, not done) may be
  // answered by the server yet not counted by h2load; nothing else may differ.
  if (serverOkCount < load.succeeded || serverOkCount > load.started) {
    problems.push(`server counted ${serverOkCount} OK answers; h2load started ${load.started} requests and saw ${load.succeeded} succeed`);
  }
  if (problems.length > 0) throw new Error(`${scenario.id}: ${problems.join("; ")}\n${load.summary}`);
}

export async function measureScenario(scenario: Scenario, options: MeasureOptions): Promise<Measurement> {
  assertSourceUnchanged(options.source.repoRoot, options.source.fingerprint);
  const runtime = options.serverOverride?.runtime ?? scenario.server === "runtime";
  const server = await startServerProcess({
    entryPath: options.serverOverride?.entryPath ?? serverEntries[scenario.server],
    nodeFlags: [...(runtime ? runtimeNodeFlags : []), ...(scenario.nodeFlags ?? [])],
    baseEnv: withoutOtelVariables(process.env),
    cpu: options.serverCpu,
    logPath: path.join(options.workDirectory, `${options.label}-${scenario.id}.log`),
    env: { BENCH_JWKS_URL: options.jwksUrl, ...(runtime ? runtimeTelemetryEnv : {}), ...options.serverOverride?.env },
  });
  try {
    await scenario.verify(server.ports);
    const load = (durationSeconds: number) =>
      runLoad({
        url: scenario.url(server.ports),
        bodyPath: scenario.bodyPath,
        headers: scenario.headers,
        clients: scenario.http1 ? options.clients * options.streams : options.clients,
        streams: options.streams,
        http1: scenario.http1,
        durationSeconds,
        cpu: options.loadCpu,
      });
    // A separate warm-up run (JIT, token cache, connection pools) keeps the
    // server's counters for the measured run exact.
    await load(options.warmUpSeconds);
    const before = await settledSnapshot(server);
    if (options.profilePath) await server.startProfile();
    const machineBusyBeforeMs = machineBusyCpuMs();
    const measured = await load(options.durationSeconds);
    const machineBusyAfterMs = machineBusyCpuMs();
    const atEnd = await snapshot(server);
    if (options.profilePath) await server.stopProfile(options.profilePath);
    const after = await settledSnapshot(server);
    const serverOkCount = serverOkIncrease(scenario, before, after);
    checkLoad(scenario, measured, serverOkCount);
    assertSourceUnchanged(options.source.repoRoot, options.source.fingerprint);
    const serverCpuMs = (atEnd.cpuMicros - before.cpuMicros) / 1000;
    const wallMs = atEnd.atMs - before.atMs;
    const serverCpuShare = serverCpuMs / wallMs;
    const serverCpuMicrosPerRequest = (serverCpuMs * 1000) / measured.succeeded;
    // Small negative values are accounting noise between /proc/stat and the processes' own clocks.
    const otherCpuShare = Math.max(0, machineBusyAfterMs - machineBusyBeforeMs - serverCpuMs - measured.loadCpuMs) / wallMs;
    return { scenario, load: measured, serverCpuShare, serverOkCount, serverCpuMicrosPerRequest, otherCpuShare };
  } finally {
    await server.stop();
  }
}

/** Other work above this share of one core during a measured run makes the run suspect. */
export const disturbedOtherCpuShare = 0.15;

/**
 * Measures, and measures again (up to `retries` times, after a pause) when
 * other work on the machine took CPU during the measured run; engineers share
 * this machine, and a test suite running beside the server halves its speed.
 * A run still disturbed after the retries is returned, flagged in the report.
 */
export async function measureUndisturbed(scenario: Scenario, options: MeasureOptions, retries: number): Promise<Measurement> {
  for (let attempt = 0; ; attempt++) {
    const measurement = await measureScenario(scenario, options);
    if (measurement.otherCpuShare <= disturbedOtherCpuShare || attempt >= retries) return measurement;
    console.log(
      `  ${scenario.id}: other work took ${(measurement.otherCpuShare * 100).toFixed(0)}% of a CPU during the run; measuring again in 30 s`,
    );
    await new Promise((resolve) => setTimeout(resolve, 30_000));
  }
}
