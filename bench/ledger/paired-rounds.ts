// Paired rounds: each of #4's targets measured beside its own yardstick.
//
// run.ts's rows measure pgbench a minute or two after the batched rows, and the
// open loop at half of a peak measured a minute before it. This machine's speed
// drifts by a fifth within minutes (the same code's CPU per batched transfer
// moved from 46–50 to 55–63 µs between runs, services/ledger/README.md,
// "Session 22"), so a verdict from rows measured apart compares two machines.
// Each round therefore measures, back to back:
// - pgbench at its best client count and the best batched shape, in an order
//   that alternates from round to round (pgbench first in odd rounds), so a
//   steady drift favours neither;
// - single-transfer callers at their best concurrency, closed loop, then the
//   open loop at half of the rate that round just measured.
// The verdicts pool the rounds: the batched rate over all rounds against
// pgbench's over all rounds, and p99 over every open-loop call of every round.
import { percentile, sortedLatencies } from "./load.ts";

export interface ThroughputPair {
  batchedPerSecond: number;
  pgbenchPerSecond: number;
}

export interface RoundsSummary {
  /** Mean batched rate over mean pgbench rate (the windows are equally long). */
  pooledRatio: number;
  /** p99 of every open-loop call of every round. */
  pooledP99Ms: number;
}

/** Whether pgbench is measured before the batched row in round `round` (1-based). */
export function pgbenchGoesFirst(round: number): boolean {
  return round % 2 === 1;
}

/** `openLoopLatenciesMs`: each round's open-loop latencies, in milliseconds. */
export function summarizeRounds(throughput: readonly ThroughputPair[], openLoopLatenciesMs: readonly Float64Array[]): RoundsSummary {
  if (throughput.length === 0 || openLoopLatenciesMs.length === 0) throw new Error("paired rounds: nothing measured");
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  const pooledRatio = sum(throughput.map((pair) => pair.batchedPerSecond)) / sum(throughput.map((pair) => pair.pgbenchPerSecond));
  const pooled = new Float64Array(sum(openLoopLatenciesMs.map((latencies) => latencies.length)));
  let offset = 0;
  for (const latencies of openLoopLatenciesMs) {
    pooled.set(latencies, offset);
    offset += latencies.length;
  }
  return { pooledRatio, pooledP99Ms: percentile(sortedLatencies(pooled), 0.99) };
}
