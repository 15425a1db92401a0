// bench/ledger/ledger-metrics.ts reads the ledger's own call durations from
// its /metrics text. These tests read the exposition the runtime's real
// registry writes (OpenMetrics, with exemplars after some bucket lines).
import assert from "node:assert/strict";
import { createMetrics } from "@trustmesh/runtime";
import { type BucketCounts, bucketGrowth, serverDurationBuckets } from "../ledger/ledger-metrics.ts";

const service = "trustmesh.ledger.v1.LedgerService";

describe("bench/ledger/ledger-metrics", () => {
  it("reads one method's duration buckets, summed over status codes, from the runtime's exposition", async () => {
    const metrics = createMetrics({ serviceName: "ledger" });
    const observe = (method: string, code: string, seconds: number) =>
      metrics.serverDuration.observe({ labels: { service, method, code }, value: seconds });
    observe("PostTransaction", "OK", 0.003);
    observe("PostTransaction", "OK", 0.004);
    observe("PostTransaction", "OK", 0.03);
    observe("PostTransaction", "FAILED_PRECONDITION", 0.0008);
    // Another method, and one whose name starts the same, count for neither.
    observe("PostTransactions", "OK", 0.0001);
    observe("GetBalance", "OK", 0.0001);
    const before = serverDurationBuckets(await metrics.registry.metrics(), "PostTransaction");

    const counted = (buckets: BucketCounts, seconds: number) => buckets.find((bucket) => bucket.le === seconds)?.count;
    assert.equal(counted(before, 0.001), 1);
    assert.equal(counted(before, 0.005), 3);
    assert.equal(counted(before, 0.025), 3);
    assert.equal(counted(before, 0.05), 4);
    assert.equal(before.at(-1)?.le, Number.POSITIVE_INFINITY);
    assert.equal(before.at(-1)?.count, 4);
    assert.deepEqual(
      before.map((bucket) => bucket.le),
      [...before.map((bucket) => bucket.le)].sort((a, b) => a - b),
      "bounds ascend",
    );

    observe("PostTransaction", "OK", 0.2);
    const growth = bucketGrowth(before, serverDurationBuckets(await metrics.registry.metrics(), "PostTransaction"));
    assert.equal(counted(growth, 0.1), 0);
    assert.equal(counted(growth, 0.25), 1);
    assert.equal(growth.at(-1)?.count, 1);
  });

  it("reads no buckets for a method that was never called", async () => {
    const metrics = createMetrics({ serviceName: "ledger" });
    assert.deepEqual(serverDurationBuckets(await metrics.registry.metrics(), "PostTransaction"), []);
  });
});
