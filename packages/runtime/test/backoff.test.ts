// Goal: retry delays double per attempt up to the cap, and jitter keeps each
// within [half, all] of that attempt's delay.
import assert from "node:assert/strict";
import { backoffDelayMs } from "../src/backoff.ts";

describe("backoffDelayMs", () => {
  it("doubles per attempt, stops at the cap, and jitters within half of the delay", () => {
    const bounds: Array<[attempt: number, ceilingMs: number]> = [
      [0, 100],
      [1, 100],
      [2, 200],
      [3, 400],
      [5, 1_000],
      [40, 1_000],
    ];
    for (const [attempt, ceilingMs] of bounds) {
      const delays = Array.from({ length: 200 }, () => backoffDelayMs(attempt, 100, 1_000));
      assert.ok(Math.min(...delays) >= ceilingMs / 2, `attempt ${attempt}: none below half of ${ceilingMs}`);
      assert.ok(Math.max(...delays) <= ceilingMs, `attempt ${attempt}: none above ${ceilingMs}`);
      assert.ok(new Set(delays).size > 1, `attempt ${attempt}: jittered`);
    }
  });
});
