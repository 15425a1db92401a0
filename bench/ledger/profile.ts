// bench/ledger/profile.ts: where one ledger workload spends its time, on both
// sides of the wire. It runs one row of bench/ledger (single PostTransaction
// callers or PostTransactions batches) against a durable PostgreSQL with
// pg_stat_statements (nested statements and planning tracked) and
// track_functions, optionally with the ledger under V8's sampling profiler, and
// prints per transfer: CPU of the ledger and of PostgreSQL, the statements by
// execution plus planning time (a statement planned on every call shows as
// "plans = calls"), the PL/pgSQL functions, and — with --cpu-prof — the
// ledger's profile cut to the measured window (start-up would drown it).
//
//   node bench/ledger/profile.ts [--single 1 | --batched 1000x2 | --rate 1800] [--duration-seconds 5]
//                                [--warm-up-seconds 2] [--wallets 1000] [--cpu-prof [--cpu-prof-under text ...]]
//                                [--postgres-setting name=value ...] [--gc-trace] [--health-checks]
//                                [--checkpoint-first] [--prefill-seconds 0]
//
// --postgres-setting gives the server a setting at start (`postgres -c`).
// --cpu-prof-under breaks down the inclusive time of the functions whose
// label ("file:line name", as printed) contains the text: the time of each
// function called beneath them, per transfer, so a cost that a caller's total
// hides is named.
// --gc-trace runs the ledger with V8's per-collection trace and prints each
// full collection in the window with the phases of its pause.
// --checkpoint-first makes a checkpoint between the warm-up and the window:
// after one, the first change to each page writes the whole 8 kB page to the
// WAL (full_page_writes), as the rows after run.ts's batched rows see.
// --prefill-seconds first commits batches of 1000 (two in flight) for that
// long, so the tables and indexes are as large as after run.ts's rows.
// --health-checks sends grpc.health.v1.Health/Check calls instead of
// transfers, by the same generator and loop, and reports everything per call:
// what the ledger's gRPC stack and runtime cost on their own at that arrival
// rate, to set against a PostTransaction's cost at the same rate.
// Autovacuum's runs in the window are read from PostgreSQL's log.
//
// The cluster is made fresh, but with the WAL of a server sized for this write
// rate (bench-postgres.ts): recycled segments made before the run, and no
// checkpoint requested by WAL volume. Without recycled segments PostgreSQL
// creates, zero-fills and flushes a new 16 MB segment every ~3 s at 3,000
// transfers/s while commits wait, and each such second had a p99 of 61-115
// ms: runs before session 13 were measured so, and their tails were mostly
// that (services/ledger/README.md, "Session 13").
//
// Variables named LEDGER_* in its environment are handed to the ledger.
// --rate sends single transfers in an open loop at that many per second (the
// warm-up too) and also prints each second's p50, p99 and maximum latency,
// marking the seconds where PostgreSQL created a WAL segment; with the
// window's checkpoints and the ledger's full garbage collections, a tail from
// stalls tells itself apart from a tail from queueing. The second after the
// warm-up carries the new generator's connections being set up;
// bench/ledger/run.ts warms up inside its window.
//
// Nothing is written to results.md: this finds costs, bench/ledger/run.ts records them.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type LedgerPlatform, startLedgerPlatform } from "../../services/ledger/test/support/ledger-platform.ts";
import { areaOf } from "../rpc/profile-summary.ts";
import { positiveInteger, requireNode24 } from "../rpc/run-options.ts";
import { type AutovacuumRun, autovacuumRuns, runsInWindow } from "./autovacuum-log.ts";
import { plainSetting, startBenchPostgres } from "./bench-postgres.ts";
import { type FullCollection, fullCollections, phaseNames } from "./gc-trace.ts";
import {
  assertNoRejectionsSince,
  type BucketCounts,
  bucketGrowth,
  ledgerMetrics,
  serverDurationBuckets,
  walSegmentBirthsMs,
} from "./ledger-metrics.ts";
import {
  closedLoop,
  halfPeakP99TargetMs,
  healthCheckWorkload,
  type LoadResult,
  openLoop,
  percentile,
  rowWindowSeconds,
  sortedLatencies,
  transferWorkload,
} from "./load.ts";
import { prepareLedgerLoad } from "./load-setup.ts";

const { values: options } = parseArgs({
  options: {
    single: { type: "string" },
    batched: { type: "string" },
    rate: { type: "string" },
    "duration-seconds": { type: "string", default: "5" },
    "warm-up-seconds": { type: "string", default: "2" },
    wallets: { type: "string", default: "1000" },
    "cpu-prof": { type: "boolean", default: false },
    "cpu-prof-under": { type: "string", multiple: true, default: [] },
    "postgres-setting": { type: "string", multiple: true, default: [] },
    "gc-trace": { type: "boolean", default: false },
    "checkpoint-first": { type: "boolean", default: false },
    "prefill-seconds": { type: "string", default: "0" },
    "health-checks": { type: "boolean", default: false },
  },
});

requireNode24();
const durationSeconds = positiveInteger("duration-seconds", options["duration-seconds"], 600);
const warmUpSeconds = positiveInteger("warm-up-seconds", options["warm-up-seconds"], 600);
const walletCount = positiveInteger("wallets", options.wallets, 100_000);
const ratePerSecond = options.rate === undefined ? undefined : positiveInteger("rate", options.rate, 100_000);
const prefillSeconds = options["prefill-seconds"] === "0" ? 0 : positiveInteger("prefill-seconds", options["prefill-seconds"], 3600);
const healthChecks = options["health-checks"] as boolean;
if (healthChecks && options.batched !== undefined)
  throw new Error("--health-checks sends single calls: give --single or --rate, not --batched");
/** What the window's figures are per: a health check is a call, not a transfer. */
const unit = healthChecks ? "call" : "transfer";
const [batchSize, concurrency] =
  options.batched === undefined
    ? [undefined, positiveInteger("single", options.single ?? "1", 4096)]
    : (() => {
        const [size, inFlight] = (options.batched as string).split("x");
        return [positiveInteger("batched size", size, 1000), positiveInteger("batched concurrency", inFlight, 256)];
      })();

const postgresSettings = (options["postgres-setting"] ?? []).map(plainSetting);

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const root = mkdtempSync(path.join(os.tmpdir(), "trustmesh-profile-ledger-"));
// PostgreSQL may run as another user (when we are root); it must be able to reach its folder.
chmodSync(root, 0o755);
const profileDir = path.join(root, "cpu-profiles");

const postgres = await startBenchPostgres(path.join(root, "data"), [
  "shared_preload_libraries=pg_stat_statements",
  "pg_stat_statements.track=all",
  "pg_stat_statements.track_planning=on",
  "track_functions=all",
  ...postgresSettings,
]);

const env: Record<string, string> = { LOG_LEVEL: "warn", LEDGER_RECONCILE_INTERVAL_MS: "0" };
// The ledger's own settings pass through, so one can be tried without editing anything (LEDGER_BATCHES_IN_FLIGHT=1 ...).
for (const [name, value] of Object.entries(process.env)) if (name.startsWith("LEDGER_") && value !== undefined) env[name] = value;
// Auth is profiled too (it shares the environment); only the ledger's profile is read.
const nodeOptions: string[] = [];
if (options["cpu-prof"]) nodeOptions.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
if (options["gc-trace"]) nodeOptions.push("--import", pathToFileURL(path.join(repoRoot, "bench/ledger/gc-trace-preload.ts")).href);
if (nodeOptions.length > 0) env.NODE_OPTIONS = nodeOptions.join(" ");
// Only the trace's origin and its full collections are kept: a young collection's line is as long, and there are many.
const ledgerGcLines: string[] = [];
const keepGcLine = (service: string, line: string) => {
  if (service === "ledger" && (line.startsWith("gc-trace-origin-ms ") || line.includes("gc=mc"))) ledgerGcLines.push(line);
};
const platform = await startLedgerPlatform({ postgres, env, onOutput: options["gc-trace"] ? keepGcLine : undefined });
let platformStopped = false;
const stopPlatform = async () => {
  if (platformStopped) return;
  platformStopped = true;
  await platform.stop();
};
try {
  const { wallets, target, ledgerPid, sampleServers } = await prepareLedgerLoad(platform, postgres, { repoRoot, walletCount });
  await platform.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  const workload = healthChecks ? healthCheckWorkload() : transferWorkload(wallets, batchSize);
  // A ledger that has run a while: its tables and indexes, the idempotency keys' above all, many pages large.
  if (prefillSeconds > 0)
    await closedLoop(target, transferWorkload(wallets, 1000), {
      concurrency: 2,
      warmUpSeconds: 0,
      durationSeconds: prefillSeconds,
      sampleServers,
    });
  // Warm-up in a run of its own, so the statistics and the profile window hold only the measured run.
  // It runs the measured load itself: an open loop warmed up by one closed-loop caller would start
  // its window with the heap and the JIT still adjusting to thousands of calls a second.
  if (ratePerSecond === undefined)
    await closedLoop(target, workload, { concurrency, warmUpSeconds: 0, durationSeconds: warmUpSeconds, sampleServers });
  else
    await openLoop(target, workload, { ratePerSecond, warmUpSeconds: 0, durationSeconds: warmUpSeconds, inFlightMax: 4096, sampleServers });
  // As when a checkpoint has just begun: the first change to each page after it logs the whole page.
  if (options["checkpoint-first"]) await platform.sql("CHECKPOINT");
  await platform.sql("SELECT pg_stat_statements_reset()");
  await platform.sql("SELECT pg_stat_reset()");
  await platform.sql("SELECT pg_stat_reset_shared('wal')");
  // V8 stamps samples with the monotonic clock, as process.hrtime does.
  const { ledger_rejections_total: rejectionsBefore } = await ledgerMetrics(platform.metricsUrl, ["ledger_rejections_total"]);
  const method = workload.method.name;
  const serverDurationsBefore = serverDurationBuckets(await (await fetch(platform.metricsUrl)).text(), method);
  const windowStartMicros = Number(process.hrtime.bigint() / 1000n);
  const result: LoadResult =
    ratePerSecond === undefined
      ? await closedLoop(target, workload, { concurrency, warmUpSeconds: 0, durationSeconds, sampleServers })
      : await openLoop(target, workload, { ratePerSecond, warmUpSeconds: 0, durationSeconds, inFlightMax: 4096, sampleServers });
  const windowEndMicros = Number(process.hrtime.bigint() / 1000n);
  if (result.failures > 0) throw new Error(`${result.failures} calls failed, first: ${result.firstFailure}`);
  await assertNoRejectionsSince(platform.metricsUrl, rejectionsBefore);
  const serverDurations = bucketGrowth(
    serverDurationsBefore,
    serverDurationBuckets(await (await fetch(platform.metricsUrl)).text(), method),
  );

  // Transfers, or calls with --health-checks: the unit every figure below is per.
  const transfers = result.transfers;
  const perUnit = (milliseconds: number) => `${((milliseconds * 1000) / transfers).toFixed(1)} µs`;
  const perSecond = (milliseconds = Number.NaN) => (milliseconds / result.durationSeconds).toFixed(0);
  const sorted = sortedLatencies(result.latenciesMs);
  const sortedLate = sortedLatencies(result.sendLateMs);
  console.log(
    `${batchSize === undefined ? method : `${method} × ${batchSize}`}, ` +
      `${ratePerSecond === undefined ? `${concurrency} in flight` : `open loop at ${ratePerSecond}/s`}, ${durationSeconds} s: ` +
      `${(transfers / result.durationSeconds).toFixed(0)} ${unit}s/s, p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p99 ${percentile(sorted, 0.99).toFixed(2)} ms; ` +
      `CPU per ${unit}: ledger ${perUnit(result.serverGrowth.ledger ?? 0)}, PostgreSQL ${perUnit(result.serverGrowth.postgres ?? 0)}; ` +
      `ledger main thread per second: ${perSecond(result.serverGrowth.ledgerMainRunning)} ms running, ${perSecond(result.serverGrowth.ledgerMainWaiting)} ms waiting for a CPU; ` +
      `load generator: ${result.clientCpuCores.toFixed(2)} cores, longest stall ${result.clientStallMaxMs.toFixed(1)} ms, ` +
      `calls begun late by p50 ${percentile(sortedLate, 0.5).toFixed(2)} ms, p99 ${percentile(sortedLate, 0.99).toFixed(2)} ms; ` +
      `ledger full GCs: ${result.serverGrowth.fullGcs ?? 0}, ${(result.serverGrowth.fullGcPauseMs ?? 0).toFixed(1)} ms of pauses; ` +
      `PostgreSQL: ${result.serverGrowth.walSegmentsCreated} new WAL segment(s), ${result.serverGrowth.checkpoints} checkpoint(s); ` +
      `load average ${os
        .loadavg()
        .map((value) => value.toFixed(2))
        .join(" ")}`,
  );

  // The WAL files' birth times and the log's timestamps are on the wall clock, as is the window's opening.
  const openedAtMs = result.windowOpenedAtMs;
  const closedAtMs = openedAtMs + result.durationSeconds * 1000;
  const autovacuum = runsInWindow(autovacuumRuns(postgres.dataDir), openedAtMs, closedAtMs);
  printServerView(serverDurations, result.latenciesMs);
  console.log(`\nThe window opened at ${new Date(openedAtMs).toISOString()} (to line up other logs with the seconds below)`);
  printAutovacuum(autovacuum, openedAtMs);
  const collections = options["gc-trace"]
    ? fullCollections(ledgerGcLines).filter((collection) => collection.atMs >= openedAtMs && collection.atMs < closedAtMs)
    : [];
  if (options["gc-trace"]) printFullCollections(collections, openedAtMs);
  if (ratePerSecond !== undefined) {
    const marks: TimelineMark[] = [
      ...[...walSegmentBirthsMs(postgres.dataDir).values()]
        .filter((born) => born > openedAtMs)
        .map((born) => ({ fromMs: born, toMs: born, label: `new WAL segment at ${((born - openedAtMs) / 1000).toFixed(2)} s` })),
      ...autovacuum.map((run) => ({ fromMs: run.startMs, toMs: run.endMs, label: `autovacuum ${run.kind} ${run.table}` })),
      ...collections.map((collection) => ({
        fromMs: collection.atMs,
        toMs: collection.atMs + collection.pauseMs,
        label: `full collection, ${collection.pauseMs.toFixed(1)} ms pause`,
      })),
    ];
    printTimeline(result, marks);
  }
  await printWriterMetrics(platform.metricsUrl);
  await printWal(platform, transfers, unit);

  const statements = await platform.sql<{ query: string; calls: string; plans: string; execute_ms: number; plan_ms: number }>(
    `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query, calls, plans,
            total_exec_time AS execute_ms, total_plan_time AS plan_ms
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND query NOT LIKE '%pg_stat_%'
     ORDER BY total_exec_time + total_plan_time DESC LIMIT 25`,
  );
  console.log(`\nStatements (wall time per ${unit}; nested statements are also inside their caller's):`);
  for (const row of statements) {
    console.log(
      `${perUnit(row.execute_ms).padStart(10)} execute ${perUnit(row.plan_ms).padStart(10)} plan ` +
        `${row.calls.padStart(7)} calls ${row.plans.padStart(7)} plans | ${row.query}`,
    );
  }
  const functions = await platform.sql<{ funcname: string; calls: string; total_ms: number; self_ms: number }>(
    "SELECT funcname, calls, total_time AS total_ms, self_time AS self_ms FROM pg_stat_user_functions ORDER BY total_time DESC",
  );
  console.log(`\nPL/pgSQL functions (wall time per ${unit}):`);
  for (const row of functions) {
    console.log(
      `${perUnit(row.total_ms).padStart(10)} total ${perUnit(row.self_ms).padStart(10)} self ${row.calls.padStart(7)} calls | ${row.funcname}`,
    );
  }

  // The profile is written when the ledger exits.
  await stopPlatform();
  if (options["cpu-prof"]) {
    const main = readdirSync(profileDir).find((file) => file.includes(`.${ledgerPid}.0.`));
    if (main === undefined) throw new Error(`no main-thread profile of the ledger (pid ${ledgerPid}) in ${profileDir}`);
    printWindow(path.join(profileDir, main), windowStartMicros, windowEndMicros, transfers, unit, options["cpu-prof-under"] ?? []);
  }
} finally {
  await stopPlatform();
  await postgres.stop();
  rmSync(root, { recursive: true, force: true });
}

/** The batch writer's own counters over the whole run (warm-up included): batches, their mean size, re-plans. */
async function printWriterMetrics(metricsUrl: string): Promise<void> {
  // Summed over labels (re-plans are counted by the state the batch was planned on).
  const value = await ledgerMetrics(metricsUrl, [
    "ledger_batch_size_count",
    "ledger_batch_size_sum",
    "ledger_batch_duration_seconds_sum",
    "ledger_batches_replanned_total",
    "ledger_batches_resent_total",
  ]);
  const batches = value.ledger_batch_size_count;
  console.log(
    `\nWriter, whole run: ${batches} batches of ${(value.ledger_batch_size_sum / batches).toFixed(1)} operations on average, ` +
      `${((value.ledger_batch_duration_seconds_sum * 1000) / batches).toFixed(1)} ms from BEGIN to COMMIT on average, ` +
      `${value.ledger_batches_replanned_total} planned again, ${value.ledger_batches_resent_total} sent again unchanged`,
  );
}

/** The write-ahead log the window made, per transfer (or call): records, full-page images (each a whole 8 kB page) and bytes. */
async function printWal(platform: Pick<LedgerPlatform, "sql">, transfers: number, unit: string): Promise<void> {
  const [row] = await platform.sql<{ records: string; full_pages: string; bytes: string }>(
    "SELECT wal_records AS records, wal_fpi AS full_pages, wal_bytes AS bytes FROM pg_stat_wal",
  );
  const per = (value: string | undefined) => (Number(value ?? Number.NaN) / transfers).toFixed(2);
  console.log(`WAL per ${unit}: ${per(row?.records)} records, ${per(row?.full_pages)} full-page images, ${per(row?.bytes)} bytes`);
  // A balance update that is not HOT (heap-only) also inserts into the balance table's index.
  const [updates] = await platform.sql<{ updates: string; hot: string }>(
    "SELECT n_tup_upd AS updates, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'account_balance'",
  );
  console.log(`Balance row updates: ${updates?.updates}, of which heap-only (HOT): ${updates?.hot}`);
}

/** Autovacuum's runs that overlapped the window: when (seconds after it opened), how long, and the worker's CPU. */
function printAutovacuum(runs: readonly AutovacuumRun[], openedAtMs: number): void {
  const cpu = runs.reduce((total, run) => total + run.cpuSeconds, 0);
  console.log(`\nAutovacuum in the window: ${runs.length} run(s), ${cpu.toFixed(2)} CPU seconds`);
  for (const run of runs) {
    console.log(
      `  ${((run.startMs - openedAtMs) / 1000).toFixed(2).padStart(7)} s to ${((run.endMs - openedAtMs) / 1000).toFixed(2).padStart(7)} s: ` +
        `${run.kind} ${run.table}, ${run.cpuSeconds.toFixed(2)} CPU seconds`,
    );
  }
}

/** The ledger's full collections in the window, each with the phases of its pause (--gc-trace). */
function printFullCollections(collections: readonly FullCollection[], openedAtMs: number): void {
  console.log(`\nLedger full collections in the window (V8's --trace-gc-nvp): ${collections.length}`);
  for (const collection of collections) {
    console.log(
      `  at ${((collection.atMs - openedAtMs) / 1000).toFixed(2).padStart(6)} s: pause ${collection.pauseMs.toFixed(1)} ms; ` +
        phaseNames.map((name) => `${name} ${collection.phasesMs[name].toFixed(1)}`).join(", "),
    );
  }
}

/** Something that happened between two wall-clock instants, to mark on the seconds it touched. */
interface TimelineMark {
  fromMs: number;
  toMs: number;
  label: string;
}

/**
 * Latency second by second: a stall shows as one bad second, queueing as every
 * second bad. Each second is marked with what happened in it: a WAL segment
 * PostgreSQL created, an autovacuum run, a full collection of the ledger.
 */
function printTimeline(result: LoadResult, marks: readonly TimelineMark[]): void {
  const sentAt = result.sentAtMs;
  // A loop, not Math.min(...sentAt): a minute's calls are more arguments than the stack holds.
  const first = sentAt.reduce((earliest, at) => Math.min(earliest, at), Number.POSITIVE_INFINITY);
  const seconds = new Map<number, number[]>();
  result.latenciesMs.forEach((latency, index) => {
    const second = Math.floor(((sentAt[index] as number) - first) / 1000);
    const latencies = seconds.get(second);
    if (latencies === undefined) seconds.set(second, [latency]);
    else latencies.push(latency);
  });
  printWindows(seconds);
  console.log("\nLatency by second:");
  for (const [second, latencies] of [...seconds.entries()].sort((a, b) => a[0] - b[0])) {
    const sorted = sortedLatencies(latencies);
    console.log(
      `  ${String(second).padStart(3)} s: ${String(sorted.length).padStart(5)} calls, p50 ${percentile(sorted, 0.5).toFixed(2)} ms, ` +
        `p99 ${percentile(sorted, 0.99).toFixed(2)} ms, max ${(sorted[sorted.length - 1] ?? 0).toFixed(2)} ms` +
        marks
          .filter((mark) => touchesSecond(mark, result.windowOpenedAtMs, second))
          .map((mark) => `; ${mark.label}`)
          .join(""),
    );
  }
}

/** Whether a mark touched second `second` after `openedAtMs`. */
function touchesSecond(mark: TimelineMark, openedAtMs: number, second: number): boolean {
  const from = openedAtMs + second * 1000;
  return mark.fromMs < from + 1000 && mark.toMs >= from;
}

/** The p99 of each whole window as long as run.ts's rows: how often such a row would meet the target. */
function printWindows(seconds: ReadonlyMap<number, readonly number[]>): void {
  const windowSeconds = rowWindowSeconds;
  const lastSecond = Math.max(...seconds.keys());
  const windows: number[] = [];
  for (let start = 0; start + windowSeconds <= lastSecond + 1; start += windowSeconds) {
    const latencies: number[] = [];
    for (let second = start; second < start + windowSeconds; second++) latencies.push(...(seconds.get(second) ?? []));
    windows.push(percentile(sortedLatencies(latencies), 0.99));
  }
  if (windows.length === 0) return;
  const met = windows.filter((p99) => p99 < halfPeakP99TargetMs).length;
  console.log(
    `\np99 of each whole ${windowSeconds} s window: ${windows.map((p99) => p99.toFixed(1)).join(", ")} ms; ` +
      `under ${halfPeakP99TargetMs} ms in ${met} of ${windows.length}`,
  );
}

/**
 * The ledger's own measure of the window's calls (rpc_server_duration_seconds:
 * from a call's first byte to its status) beside the generator's, bound by
 * bound. Where the generator sees a tail the ledger does not, the time was
 * spent outside the call as the ledger counts it: the request waiting to be
 * read, the answer waiting to be written (the status goes out after the
 * message's write completes), or the generator itself.
 */
function printServerView(buckets: BucketCounts, latenciesMs: Float64Array): void {
  const calls = buckets.at(-1)?.count ?? 0;
  if (calls === 0 || latenciesMs.length === 0) return;
  const share = (count: number, of: number) => `${((100 * count) / of).toFixed(1)}%`;
  console.log(`\nCalls answered within each bound: the ledger's own measure (${calls} calls), the generator's (${latenciesMs.length}):`);
  for (const { le, count } of buckets) {
    if (!Number.isFinite(le) || le < 0.001 || le > 0.1) continue;
    const boundMs = le * 1000;
    const generator = latenciesMs.filter((latency) => latency <= boundMs).length;
    console.log(
      `  ≤ ${String(boundMs).padStart(5)} ms: ledger ${share(count, calls).padStart(6)}, generator ${share(generator, latenciesMs.length).padStart(6)}`,
    );
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/**
 * The ledger's main-thread samples between two monotonic instants: self time
 * by function and inclusive time by area, per transfer; and for each text in
 * `under`, the inclusive time of every function called beneath the outermost
 * frame whose label holds that text.
 */
function printWindow(file: string, fromMicros: number, toMicros: number, transfers: number, unit: string, under: readonly string[]): void {
  const profile = JSON.parse(readFileSync(file, "utf8")) as {
    nodes: ProfileNode[];
    startTime: number;
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const label = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${areaOf(url, functionName)}:${lineNumber + 1} ${functionName || "(anonymous)"}`;
  };
  const selfByFunction = new Map<string, number>();
  const selfByArea = new Map<string, number>();
  const inclusiveByArea = new Map<string, number>();
  const inclusiveByFunction = new Map<string, number>();
  const beneath = new Map(under.map((text) => [text, new Map<string, number>()]));
  let sampledMicros = 0;
  let at = profile.startTime;
  profile.samples.forEach((nodeId, index) => {
    at += profile.timeDeltas[index] ?? 0;
    const micros = profile.timeDeltas[index + 1] ?? 0;
    const node = byId.get(nodeId);
    if (at < fromMicros || at > toMicros || node === undefined || node.callFrame.functionName === "(idle)") return;
    sampledMicros += micros;
    selfByFunction.set(label(node), (selfByFunction.get(label(node)) ?? 0) + micros);
    const selfArea = areaOf(node.callFrame.url, node.callFrame.functionName);
    selfByArea.set(selfArea, (selfByArea.get(selfArea) ?? 0) + micros);
    const areas = new Set<string>();
    // Innermost first.
    const stack: string[] = [];
    for (let current: number | undefined = nodeId; current !== undefined; current = parentOf.get(current)) {
      const frame = byId.get(current) as ProfileNode;
      areas.add(areaOf(frame.callFrame.url, frame.callFrame.functionName));
      stack.push(label(frame));
    }
    const add = (costs: Map<string, number>, names: Iterable<string>) => {
      // A recursive function counts once per sample, like an area.
      for (const name of new Set(names)) costs.set(name, (costs.get(name) ?? 0) + micros);
    };
    add(inclusiveByArea, areas);
    add(inclusiveByFunction, stack);
    for (const [text, costs] of beneath) {
      const outermost = stack.findLastIndex((name) => name.includes(text));
      if (outermost !== -1) add(costs, stack.slice(0, outermost + 1));
    }
  });
  const top = (costs: Map<string, number>, limit: number) =>
    [...costs.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(
        ([name, micros]) =>
          `${(micros / transfers).toFixed(1).padStart(8)} µs ${((100 * micros) / sampledMicros).toFixed(1).padStart(5)}% | ${name}`,
      )
      .join("\n");
  console.log(`\nLedger main thread: ${(sampledMicros / transfers).toFixed(1)} µs sampled per ${unit} in the window`);
  console.log(`\nSelf time by area, per ${unit}:\n${top(selfByArea, 30)}`);
  console.log(`\nSelf time by function, per ${unit}:\n${top(selfByFunction, 30)}`);
  console.log(`\nInclusive time by area (library, Node internals, source file), per ${unit}:\n${top(inclusiveByArea, 40)}`);
  console.log(`\nInclusive time by function, per ${unit}:\n${top(inclusiveByFunction, 60)}`);
  for (const [text, costs] of beneath)
    console.log(`\nInclusive time beneath the outermost function matching '${text}', per ${unit}:\n${top(costs, 60)}`);
}
