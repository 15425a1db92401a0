// bench/ledger/paired-rounds.ts: the order of each round's pair and how the
// rounds' verdicts are pooled.
import assert from "node:assert/strict";
import { pgbenchGoesFirst, summarizeRounds } from "../ledger/paired-rounds.ts";

const latencies = (...groups: [count: number, ms: number][]) =>
  Float64Array.from(groups.flatMap(([count, ms]) => Array.from({ length: count }, () => ms)));

describe("bench/ledger/paired-rounds", () => {
  it("alternates which of the pair is measured first", () => {
    assert.deepEqual([1, 2, 3, 4].map(pgbenchGoesFirst), [true, false, true, false]);
  });

  it("sets the mean batched rate against the mean pgbench rate, not the mean of the ratios", () => {
    const summary = summarizeRounds(
      [
        { batchedPerSecond: 10_000, pgbenchPerSecond: 2_000 },
        { batchedPerSecond: 30_000, pgbenchPerSecond: 10_000 },
      ],
      [latencies([10, 1])],
    );
    // 40,000 / 12,000; the ratios' mean would be (5 + 3) / 2 = 4.
    assert.equal(summary.pooledRatio.toFixed(3), "3.333");
  });

  it("takes p99 over every round's calls together", () => {
    // Round one alone has a p99 of 40 ms (its 100th call); pooled with round two it is the 199th of 200 calls.
    const summary = summarizeRounds([{ batchedPerSecond: 1, pgbenchPerSecond: 1 }], [latencies([99, 1], [1, 40]), latencies([100, 2])]);
    assert.equal(summary.pooledP99Ms, 2);
    const slowSecond = summarizeRounds([{ batchedPerSecond: 1, pgbenchPerSecond: 1 }], [latencies([100, 1]), latencies([97, 2], [3, 30])]);
    assert.equal(slowSecond.pooledP99Ms, 30);
  });

  it("refuses to judge nothing", () => {
    assert.throws(() => summarizeRounds([], [latencies([1, 1])]), /nothing measured/);
    assert.throws(() => summarizeRounds([{ batchedPerSecond: 1, pgbenchPerSecond: 1 }], []), /nothing measured/);
  });
});
