// The ledger's own Prometheus series, read from its /metrics endpoint, and the
// counters a measured window is read from.
import { readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import type { WindowSampler } from "./load.ts";
import { mainThreadScheduleMs, postgresCpuMs, processCpuMs } from "./process-cpu.ts";

/** Every sample of a series in a Prometheus text exposition: its label text (`a="1",b="2"`, empty without labels) and value. */
function* seriesSamples(exposition: string, name: string): Generator<{ labelText: string; value: number }> {
  for (const [, labelText, value] of exposition.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)`, "gm")))
    yield { labelText: labelText ?? "", value: Number(value) };
}

/** The sum of a series over its label sets, or over those `labels` accepts (0 when absent). */
function sumSeries(exposition: string, name: string, labels: (labelText: string) => boolean = () => true): number {
  let total = 0;
  for (const { labelText, value } of seriesSamples(exposition, name)) if (labels(labelText)) total += value;
  return total;
}

/** Reads the named series, each summed over its labels (0 when absent). */
export async function ledgerMetrics<Name extends string>(metricsUrl: string, names: readonly Name[]): Promise<Record<Name, number>> {
  const text = await (await fetch(metricsUrl)).text();
  return Object.fromEntries(names.map((name) => [name, sumSeries(text, name)])) as Record<Name, number>;
}

/** Cumulative counts of a histogram's buckets: calls at or under each bound, in seconds, ascending (the last is +Inf). */
export type BucketCounts = ReadonlyArray<{ le: number; count: number }>;

/**
 * The buckets of rpc_server_duration_seconds for one method, summed over its
 * other labels (status codes): the ledger's own measure of its calls, from
 * their first byte to their status.
 */
export function serverDurationBuckets(exposition: string, method: string): BucketCounts {
  const counts = new Map<number, number>();
  for (const { labelText, value } of seriesSamples(exposition, "rpc_server_duration_seconds_bucket")) {
    if (!labelText.split(",").includes(`method="${method}"`)) continue;
    const bound = /(?:^|,)le="([^"]+)"/.exec(labelText)?.[1];
    if (bound === undefined) continue;
    const le = bound === "+Inf" ? Number.POSITIVE_INFINITY : Number(bound);
    counts.set(le, (counts.get(le) ?? 0) + value);
  }
  return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** The calls a window added to each bucket: `after` less `before`, bucket by bucket. */
export function bucketGrowth(before: BucketCounts, after: BucketCounts): BucketCounts {
  const earlier = new Map(before.map(({ le, count }) => [le, count]));
  return after.map(({ le, count }) => ({ le, count: count - (earlier.get(le) ?? 0) }));
}

/**
 * The ledger's full (mark-compact) garbage collections so far: how many, and
 * their pauses in milliseconds, from prom-client's default nodejs_gc_duration_seconds.
 * A single transfer waits out such a pause, and the calls queued behind it.
 */
export async function fullGcTotals(metricsUrl: string): Promise<{ fullGcs: number; fullGcPauseMs: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const major = (labelText: string) => /(^|,)kind="major"(,|$)/.test(labelText);
  return {
    fullGcs: sumSeries(text, "nodejs_gc_duration_seconds_count", major),
    fullGcPauseMs: sumSeries(text, "nodejs_gc_duration_seconds_sum", major) * 1000,
  };
}

/**
 * When each WAL segment file now in pg_wal was born (epoch milliseconds), by
 * file name. A segment PostgreSQL creates is zero-filled and flushed while
 * commits wait (wal_init_zero); one a checkpoint recycled is renamed, so it
 * keeps its older birth time, and is not. A fresh cluster creates every
 * segment until its first checkpoint: a 16 MB one every ~3 s at 3,000
 * transfers/s (services/ledger/README.md, "Session 13").
 */
export function walSegmentBirthsMs(dataDir: string): Map<string, number> {
  const walDirectory = path.join(dataDir, "pg_wal");
  const births = new Map<string, number>();
  for (const name of readdirSync(walDirectory)) {
    // Segment files are named by 24 hex digits; pg_wal also holds archive_status and .history files.
    if (!/^[0-9A-F]{24}$/.test(name)) continue;
    // A file removed between the listing and the stat was an old segment, not a new one.
    const born = statSync(path.join(walDirectory, name), { throwIfNoEntry: false })?.birthtimeMs;
    if (born !== undefined) births.set(name, born);
  }
  return births;
}

/** A running total of the WAL segments created since it was made (each file born since then, counted once). */
function walSegmentCounter(dataDir: string): () => number {
  const sinceMs = Date.now();
  const created = new Set<string>();
  return () => {
    for (const [name, born] of walSegmentBirthsMs(dataDir)) if (born > sinceMs) created.add(`${name}@${born}`);
    return created.size;
  };
}

/** PostgreSQL's checkpoints so far, timed and requested. */
export async function checkpointCount(sql: SqlQuery): Promise<number> {
  const [row] = await sql<{ count: string }>("SELECT checkpoints_timed + checkpoints_req AS count FROM pg_stat_bgwriter");
  return Number(row?.count);
}

type SqlQuery = <R extends Record<string, unknown>>(text: string) => Promise<R[]>;

/**
 * What a row's window is read from: the ledger's and PostgreSQL's CPU
 * milliseconds (and `machine`'s busy ones, when given), the ledger main
 * thread's milliseconds running and waiting for a CPU, and the WAL segments
 * created, at the instant the window opens or closes; then the ledger's full
 * collections from /metrics and PostgreSQL's checkpoints.
 */
export function ledgerWindowSampler(target: {
  metricsUrl: string;
  ledgerPid: number;
  postmasterPid: number;
  postgresDataDir: string;
  sql: SqlQuery;
  machineBusyCpuMs?: () => number;
}): WindowSampler {
  const walSegmentsCreated = walSegmentCounter(target.postgresDataDir);
  return async () => {
    const mainThread = mainThreadScheduleMs(target.ledgerPid);
    const atEdge: Record<string, number> = {
      ledger: processCpuMs(target.ledgerPid),
      ledgerMainRunning: mainThread.runningMs,
      ledgerMainWaiting: mainThread.waitingMs,
      postgres: postgresCpuMs(target.postmasterPid),
      walSegmentsCreated: walSegmentsCreated(),
    };
    if (target.machineBusyCpuMs) atEdge.machine = target.machineBusyCpuMs();
    return { ...atEdge, ...(await fullGcTotals(target.metricsUrl)), checkpoints: await checkpointCount(target.sql) };
  };
}

/**
 * Fails when the ledger refused any transfer since `before` (a count of
 * ledger_rejections_total): the generator counts a call's transfers as
 * committed from its status alone, and PostTransactions answers OK with
 * per-item rejections.
 */
export async function assertNoRejectionsSince(metricsUrl: string, before: number): Promise<void> {
  const { ledger_rejections_total: now } = await ledgerMetrics(metricsUrl, ["ledger_rejections_total"]);
  if (now !== before) throw new Error(`the ledger refused ${now - before} transfers during the run (ledger_rejections_total)`);
}
