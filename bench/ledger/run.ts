// bench/ledger: transfers per second and latency of the real ledger process
// over gRPC — single PostTransaction calls at several concurrency levels
// (group-committed by the ledger's batch writer) and PostTransactions batches —
// next to pgbench running a one-transfer-per-transaction SQL script on the same
// durable PostgreSQL, and p99 of single transfers at half of their peak rate.
//
//   node bench/ledger/run.ts [--warm-up-seconds 3] [--duration-seconds 8]
//                            [--single 1,4,16,64,256] [--batched 100x1,100x4,1000x1,1000x2]
//                            [--pgbench 1,4,16,64] [--rounds 3] [--wallets 1000] [--postgres-setting name=value ...]
//                            [--note text] [--no-write]
//
// After the rows, --rounds paired rounds measure each target beside its own
// yardstick (paired-rounds.ts says why and how).
//
// See bench/README.md ("bench/ledger") for what each number means.
import { execFileSync } from "node:child_process";
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { baseConfigShape } from "@trustmesh/runtime";
import { serviceNodeArguments } from "../../packages/runtime/src/node-arguments.ts";
import { ledgerConfigShape } from "../../services/ledger/src/config.ts";
import { type LedgerPlatform, startLedgerPlatform } from "../../services/ledger/test/support/ledger-platform.ts";
import { machineBusyCpuMs } from "../rpc/machine-load.ts";
import { positiveInteger, requireNode24 } from "../rpc/run-options.ts";
import { type AutovacuumRun, autovacuumRuns, runsInWindow } from "./autovacuum-log.ts";
import { plainSetting, startBenchPostgres, walSettings } from "./bench-postgres.ts";
import { assertNoRejectionsSince, ledgerMetrics } from "./ledger-metrics.ts";
import {
  closedLoop,
  halfPeakP99TargetMs,
  type LoadResult,
  openLoop,
  percentile,
  rowWindowSeconds,
  sortedLatencies,
  transferWorkload,
  type Workload,
} from "./load.ts";
import { prepareLedgerLoad } from "./load-setup.ts";
import { pgbenchGoesFirst, summarizeRounds, type ThroughputPair } from "./paired-rounds.ts";
import { type PgbenchResult, preparePgbenchDatabase, runPgbench } from "./pgbench.ts";
import { postgresCpuMs } from "./process-cpu.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const resultsPath = path.join(here, "results.md");
const resultsHeader =
  '# bench/ledger results\n\nNewest last. Each section is one run of the command it names; bench/README.md ("bench/ledger") explains the columns.\n\n';

const { values: options } = parseArgs({
  allowNegative: true,
  options: {
    "warm-up-seconds": { type: "string", default: "3" },
    "duration-seconds": { type: "string", default: String(rowWindowSeconds) },
    single: { type: "string", default: "1,4,16,64,256" },
    batched: { type: "string", default: "100x1,100x4,1000x1,1000x2" },
    pgbench: { type: "string", default: "1,4,16,64" },
    rounds: { type: "string", default: "3" },
    "postgres-setting": { type: "string", multiple: true },
    wallets: { type: "string", default: "1000" },
    note: { type: "string" },
    write: { type: "boolean", default: true },
  },
});

requireNode24();
const warmUpSeconds = positiveInteger("warm-up-seconds", options["warm-up-seconds"], 600);
const durationSeconds = positiveInteger("duration-seconds", options["duration-seconds"], 600);
const walletCount = positiveInteger("wallets", options.wallets, 100_000);
const singleLevels = options.single.split(",").map((value) => positiveInteger("single", value, 4096));
const batchedLevels = options.batched.split(",").map((value) => {
  const [size, concurrency] = value.split("x");
  return { size: positiveInteger("batched size", size, 1000), concurrency: positiveInteger("batched concurrency", concurrency, 256) };
});
const pgbenchLevels = options.pgbench.split(",").map((value) => positiveInteger("pgbench", value, 1024));
const roundCount = positiveInteger("rounds", options.rounds, 20);
const pgbenchPath = ["/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench"].find((candidate) => existsSync(candidate));
if (pgbenchPath === undefined) throw new Error("pgbench is required (Debian: apt-get install postgresql-client)");

interface Row {
  mode: string;
  concurrency: string;
  result: LoadResult;
  /** Mean operations per database transaction of the ledger's writer during the window. */
  meanBatch: number;
  machineBusyCores: number;
}

function commandOf(): string {
  return ["node", path.relative(process.cwd(), fileURLToPath(import.meta.url)), ...process.argv.slice(2)].join(" ");
}

// The writer's histogram of operations per database transaction (services/ledger/src/metrics.ts), and its refusals.
const writerSeries = ["ledger_batch_size_sum", "ledger_batch_size_count", "ledger_rejections_total"] as const;

/** Runs one measurement with machine CPU and the writer's batch sizes recorded around it. */
async function measure(platform: LedgerPlatform, mode: string, concurrency: string, load: () => Promise<LoadResult>): Promise<Row> {
  const before = await ledgerMetrics(platform.metricsUrl, writerSeries);
  const result = await load();
  // The machine's busy time is sampled with the servers' CPU, at the edges of the generator's measured window.
  const busyCores = (result.serverGrowth.machine ?? Number.NaN) / (result.durationSeconds * 1000);
  const after = await ledgerMetrics(platform.metricsUrl, writerSeries);
  const batches = after.ledger_batch_size_count - before.ledger_batch_size_count;
  const meanBatch = batches > 0 ? (after.ledger_batch_size_sum - before.ledger_batch_size_sum) / batches : 0;
  const row = { mode, concurrency, result, meanBatch, machineBusyCores: busyCores };
  console.log(formatRow(row, autovacuumRuns(postgres.dataDir)).join(" | "));
  if (result.failures > 0) throw new Error(`${mode} × ${concurrency}: ${result.failures} calls failed, first: ${result.firstFailure}`);
  await assertNoRejectionsSince(platform.metricsUrl, before.ledger_rejections_total);
  return row;
}

/** The batching settings each section names, read from the ledger's own defaults so a changed default shows. */
const batchingDefaults = [
  ...(["LEDGER_BATCH_SIZE_MAX", "LEDGER_BATCH_LINGER_MS", "LEDGER_BATCHES_IN_FLIGHT", "LEDGER_PIPELINE_OPERATIONS_MIN"] as const).map(
    (name) => `${name} ${ledgerConfigShape[name].parse(undefined)}`,
  ),
  `DATABASE_POOL_MAX ${baseConfigShape.DATABASE_POOL_MAX.parse(undefined)}`,
].join(", ");

/** Committed transfers per second of a row's window. */
const rateOf = (row: Row) => row.result.transfers / row.result.durationSeconds;

/** The open loop's rate at half of a peak, in whole calls per second. */
const halfOf = (peakPerSecond: number) => Math.max(1, Math.round(peakPerSecond / 2));

/** The item with the highest rate; the first of equals. */
function bestOf<T>(items: readonly T[], rate: (item: T) => number): T {
  return items.reduce((best, item) => (rate(item) > rate(best) ? item : best));
}

const integer = (value: number) => Math.round(value).toLocaleString("en-US");
const milliseconds = (value: number) => value.toFixed(value < 10 ? 2 : 1);

/** CPU microseconds per committed transfer. */
const perTransfer = (cpuMs: number | undefined, transfers: number) =>
  cpuMs === undefined || transfers === 0 || Number.isNaN(cpuMs) ? "—" : integer((cpuMs * 1000) / transfers);

/** The ledger's full collections in the window and their pauses together, "2 (41.3)"; "—" if unread. */
function fullGcs(growth: Record<string, number>): string {
  const { fullGcs: count, fullGcPauseMs: pauseMs } = growth;
  return count === undefined || pauseMs === undefined ? "—" : `${integer(count)} (${milliseconds(pauseMs)})`;
}

/** The ledger's main thread per second of the window: on a CPU / runnable and waiting for one, "745 / 224"; "—" if unread. */
function mainThreadSchedule(growth: Record<string, number>, seconds: number): string {
  const { ledgerMainRunning: running, ledgerMainWaiting: waiting } = growth;
  if (running === undefined || waiting === undefined || Number.isNaN(running) || Number.isNaN(waiting)) return "—";
  return `${integer(running / seconds)} / ${integer(waiting / seconds)}`;
}

/**
 * PostgreSQL's autovacuum runs that overlapped the window and their CPU
 * together, "2 (0.41 s)". A row inherits the dead tuples and new rows of the
 * rows before it, so a run may land in any window; only runs that had ended
 * when the log was read are counted.
 */
function autovacuumInWindow(result: LoadResult, runs: readonly AutovacuumRun[]): string {
  const overlapping = runsInWindow(runs, result.windowOpenedAtMs, result.windowOpenedAtMs + result.durationSeconds * 1000);
  const cpuSeconds = overlapping.reduce((sum, run) => sum + run.cpuSeconds, 0);
  return `${overlapping.length} (${cpuSeconds.toFixed(2)} s)`;
}

/** PostgreSQL's new WAL segments and checkpoints in the window, "3, 0"; "—" if unread. */
function walEvents(growth: Record<string, number>): string {
  const { walSegmentsCreated, checkpoints } = growth;
  return walSegmentsCreated === undefined || checkpoints === undefined ? "—" : `${integer(walSegmentsCreated)}, ${integer(checkpoints)}`;
}

function formatRow(row: Row, autovacuum: readonly AutovacuumRun[]): string[] {
  const sorted = sortedLatencies(row.result.latenciesMs);
  const seconds = row.result.durationSeconds;
  return [
    row.mode,
    row.concurrency,
    integer(rateOf(row)),
    integer(row.result.calls / seconds),
    milliseconds(percentile(sorted, 0.5)),
    milliseconds(percentile(sorted, 0.99)),
    row.meanBatch.toFixed(1),
    perTransfer(row.result.serverGrowth.ledger, row.result.transfers),
    perTransfer(row.result.serverGrowth.postgres, row.result.transfers),
    row.machineBusyCores.toFixed(2),
    mainThreadSchedule(row.result.serverGrowth, seconds),
    row.result.clientCpuCores.toFixed(2),
    milliseconds(row.result.clientStallMaxMs),
    fullGcs(row.result.serverGrowth),
    walEvents(row.result.serverGrowth),
    autovacuumInWindow(row.result, autovacuum),
  ];
}

const benchRoot = mkdtempSync(path.join(os.tmpdir(), "trustmesh-bench-ledger-"));
// PostgreSQL may run as another user (when we are root); it must be able to reach its folder.
chmodSync(benchRoot, 0o755);
const loadBefore = os.loadavg();
const startedAt = new Date();
console.log(`bench/ledger: durable PostgreSQL in ${benchRoot}; load average ${loadBefore.map((value) => value.toFixed(2)).join(" ")}`);
// Durable on purpose (fsync and synchronous_commit on, as in production): group commit is what batching buys.
// Autovacuum's runs are read from the server's log; its WAL is sized for the write rate (bench-postgres.ts).
const postgresSettings = (options["postgres-setting"] ?? []).map(plainSetting);
const postgres = await startBenchPostgres(path.join(benchRoot, "data"), postgresSettings);
let platform: LedgerPlatform | undefined;
try {
  // Scheduled reconciliation would land in some row's window and charge its CPU there; it has its own cost, not a transfer's.
  platform = await startLedgerPlatform({ postgres, env: { LOG_LEVEL: "warn", LEDGER_RECONCILE_INTERVAL_MS: "0" } });
  const ledger = platform;
  const { wallets, target, postmasterPid, sampleServers } = await prepareLedgerLoad(platform, postgres, {
    repoRoot,
    walletCount,
    machineBusyCpuMs,
  });
  const single = transferWorkload(wallets, undefined);
  // Each kind of row is measured the same way in the rows and in the paired rounds (pgbench's helper is below).
  const closedLoopRow = (mode: string, workload: Workload, concurrency: number) =>
    measure(ledger, mode, String(concurrency), () =>
      closedLoop(target, workload, { concurrency, warmUpSeconds, durationSeconds, sampleServers }),
    );
  /** The open loop at half of `peakPerSecond`, evenly spaced whatever the answers do. */
  const openLoopAtHalfOf = (mode: string, peakPerSecond: number) => {
    const ratePerSecond = halfOf(peakPerSecond);
    return measure(ledger, mode, `${integer(ratePerSecond)}/s`, () =>
      openLoop(target, single, { ratePerSecond, warmUpSeconds, durationSeconds, inFlightMax: 4096, sampleServers }),
    );
  };
  const rows: Row[] = [];
  for (const concurrency of singleLevels) rows.push(await closedLoopRow("PostTransaction", single, concurrency));
  for (const { size, concurrency } of batchedLevels) {
    rows.push(await closedLoopRow(`PostTransactions × ${size}`, transferWorkload(wallets, size), concurrency));
  }
  const singleRows = rows.filter((row) => row.mode === "PostTransaction");
  const bestSingleRow = bestOf(singleRows, rateOf);
  const peakSingle = rateOf(bestSingleRow);
  const halfPeak = await openLoopAtHalfOf("PostTransaction, open loop", peakSingle);
  const halfRate = halfOf(peakSingle);

  const pgbenchDatabase = await postgres.createDatabase("pgbench_ledger");
  await preparePgbenchDatabase(pgbenchDatabase);
  const pgbench = async (clientsCount: number, label: string): Promise<PgbenchResult> => {
    const result = await runPgbench(pgbenchPath, pgbenchDatabase, {
      clients: clientsCount,
      durationSeconds: warmUpSeconds + durationSeconds,
      postgresCpuMs: () => postgresCpuMs(postmasterPid),
    });
    console.log(
      `${label} | ${clientsCount} | ${integer(result.transactionsPerSecond)} | p50 ${milliseconds(result.p50Ms)} | p99 ${milliseconds(result.p99Ms)}`,
    );
    return result;
  };
  const pgbenchRows: PgbenchResult[] = [];
  for (const clientsCount of pgbenchLevels) pgbenchRows.push(await pgbench(clientsCount, "pgbench"));

  const batchedRows = rows.filter((row) => row.mode !== "PostTransaction");
  const bestBatchedRow = bestOf(batchedRows, rateOf);
  const peakBatched = rateOf(bestBatchedRow);
  const bestPgbench = bestOf(pgbenchRows, (row) => row.transactionsPerSecond);
  const pgbenchBest = bestPgbench.transactionsPerSecond;

  // Paired rounds (paired-rounds.ts): the best shape of each kind, each beside its yardstick.
  const bestBatched = batchedLevels[batchedRows.indexOf(bestBatchedRow)] as (typeof batchedLevels)[number];
  const bestSingleConcurrency = singleLevels[singleRows.indexOf(bestSingleRow)] as number;
  const bestBatchedWorkload = transferWorkload(wallets, bestBatched.size);
  const roundRows: { round: number; pgbench: PgbenchResult; batched: Row; peak: Row; halfPeak: Row }[] = [];
  for (let round = 1; round <= roundCount; round++) {
    let pgbenchResult: PgbenchResult | undefined;
    let batched: Row | undefined;
    for (const kind of pgbenchGoesFirst(round) ? ["pgbench", "batched"] : ["batched", "pgbench"]) {
      if (kind === "pgbench") pgbenchResult = await pgbench(bestPgbench.clients, `pgbench, round ${round}`);
      else
        batched = await closedLoopRow(
          `PostTransactions × ${bestBatched.size}, round ${round}`,
          bestBatchedWorkload,
          bestBatched.concurrency,
        );
    }
    if (pgbenchResult === undefined || batched === undefined) throw new Error(`round ${round} measured only one of its pair`);
    const peak = await closedLoopRow(`PostTransaction, round ${round}`, single, bestSingleConcurrency);
    const roundHalfPeak = await openLoopAtHalfOf(`PostTransaction, open loop, round ${round}`, rateOf(peak));
    roundRows.push({ round, pgbench: pgbenchResult, batched, peak, halfPeak: roundHalfPeak });
  }
  const throughputPairs: ThroughputPair[] = roundRows.map((row) => ({
    batchedPerSecond: rateOf(row.batched),
    pgbenchPerSecond: row.pgbench.transactionsPerSecond,
  }));
  const rounds = summarizeRounds(
    throughputPairs,
    roundRows.map((row) => row.halfPeak.result.latenciesMs),
  );
  const loadAfter = os.loadavg();
  const autovacuumAtEnd = autovacuumRuns(postgres.dataDir);
  const pgbenchOne = pgbenchRows.find((row) => row.clients === 1)?.transactionsPerSecond;
  const halfPeakP99 = percentile(sortedLatencies(halfPeak.result.latenciesMs), 0.99);
  const postgresVersion = postgres.version;
  const commit = execFileSync("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const dirty = execFileSync("git", ["-C", repoRoot, "status", "--porcelain", "--", "services/ledger", "bench/ledger"], {
    encoding: "utf8",
  }).trim();

  const header =
    "| mode | concurrency | transfers/s | calls/s | p50 ms | p99 ms | ops per DB transaction | ledger CPU µs/transfer | PostgreSQL CPU µs/transfer | machine CPU busy (cores) | ledger main thread ms/s: running / waiting for a CPU | load generator CPU (cores) | load generator's longest stall ms | ledger full GCs (pause ms) | PostgreSQL new WAL segments, checkpoints | PostgreSQL autovacuum runs (CPU s) |";
  const section = [
    `## ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC`,
    "",
    `- Command: \`${commandOf()}\``,
    ...(options.note === undefined ? [] : [`- Note: ${options.note}`]),
    `- Machine: ${os.cpus()[0]?.model ?? "unknown"}, ${os.availableParallelism()} CPUs, ${os.type()} ${os.release()}; PostgreSQL ${postgresVersion} (durable: fsync and synchronous_commit on; ${[...walSettings, ...postgresSettings].join(", ")}), Node ${process.version}`,
    `- Load average (uptime) before: ${loadBefore.map((value) => value.toFixed(2)).join(" ")}; after: ${loadAfter.map((value) => value.toFixed(2)).join(" ")}`,
    `- Commit ${commit}${dirty === "" ? "" : " (services/ledger or bench/ledger modified in the working tree)"}; ledger defaults (${batchingDefaults}) but scheduled reconciliation off, started as every service is (\`node ${serviceNodeArguments.join(" ")}\`); ${wallets.length} funded USD wallets, transfers of 1 minor unit between random distinct wallets, unique idempotency keys; ${target.connections} gRPC connections from the Go load generator (bench/ledger/loadgen); ${warmUpSeconds} s warm-up then ${durationSeconds} s measured per row.`,
    "",
    header,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...[...rows, halfPeak, ...roundRows.flatMap((round) => [round.batched, round.peak, round.halfPeak])].map(
      (row) => `| ${formatRow(row, autovacuumAtEnd).join(" | ")} |`,
    ),
    "",
    "| pgbench, one transfer per SQL transaction | clients | transfers/s | p50 ms | p99 ms | pgbench CPU µs/transfer | PostgreSQL CPU µs/transfer | failed |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...pgbenchRows.map(
      (row) =>
        `| \`${row.commandLine}\` | ${row.clients} | ${integer(row.transactionsPerSecond)} | ${milliseconds(row.p50Ms)} | ${milliseconds(row.p99Ms)} | ` +
        `${perTransfer(row.clientCpuMs, row.transactions)} | ${perTransfer(row.postgresCpuMs, row.transactions)} | ${row.failed} |`,
    ),
    "",
    `- Batched peak ${integer(peakBatched)} transfers/s = **${(peakBatched / pgbenchBest).toFixed(1)}×** pgbench's best (${integer(pgbenchBest)}/s)` +
      (pgbenchOne === undefined
        ? ""
        : ` and ${(peakBatched / pgbenchOne).toFixed(1)}× pgbench with one client (${integer(pgbenchOne)}/s)`) +
      `; target ≥ 5×: **${peakBatched >= 5 * pgbenchBest ? "met" : "not met"}** against the best pgbench figure.`,
    `- Single-transfer peak ${integer(peakSingle)} transfers/s; at half of it (${integer(halfRate)}/s, open loop) p99 = **${milliseconds(halfPeakP99)} ms**; target < ${halfPeakP99TargetMs} ms: **${halfPeakP99 < halfPeakP99TargetMs ? "met" : "not met"}**.`,
    "",
    `Paired rounds (\`bench/ledger/paired-rounds.ts\`): pgbench with ${bestPgbench.clients} clients beside \`PostTransactions × ${bestBatched.size}\`, ${bestBatched.concurrency} in flight, in alternating order; then ${bestSingleConcurrency} closed-loop callers and the open loop at half of their rate.`,
    "",
    "| round | measured first | pgbench transfers/s | batched transfers/s | batched ÷ pgbench | single-transfer peak | open loop at half of it | p50 ms | p99 ms |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...roundRows.map((round) => {
      const sorted = sortedLatencies(round.halfPeak.result.latenciesMs);
      return (
        `| ${round.round} | ${pgbenchGoesFirst(round.round) ? "pgbench" : "batched"} | ${integer(round.pgbench.transactionsPerSecond)} | ` +
        `${integer(rateOf(round.batched))} | ${(rateOf(round.batched) / round.pgbench.transactionsPerSecond).toFixed(1)}× | ` +
        `${integer(rateOf(round.peak))} | ${integer(rateOf(round.halfPeak))}/s | ${milliseconds(percentile(sorted, 0.5))} | ${milliseconds(percentile(sorted, 0.99))} |`
      );
    }),
    "",
    `- Paired rounds, batched over pgbench (mean rates): **${rounds.pooledRatio.toFixed(1)}×**; target ≥ 5×: **${rounds.pooledRatio >= 5 ? "met" : "not met"}**.`,
    `- Paired rounds, p99 of every open-loop call: **${milliseconds(rounds.pooledP99Ms)} ms**; target < ${halfPeakP99TargetMs} ms: **${rounds.pooledP99Ms < halfPeakP99TargetMs ? "met" : "not met"}**.`,
    "",
  ].join("\n");
  console.log(`\n${section}`);
  if (options.write) {
    if (!existsSync(resultsPath)) writeFileSync(resultsPath, resultsHeader);
    appendFileSync(resultsPath, `${section}\n`);
    console.log(`appended to ${path.relative(process.cwd(), resultsPath)}`);
  }
} finally {
  await platform?.stop();
  await postgres.stop();
  rmSync(benchRoot, { recursive: true, force: true });
}
