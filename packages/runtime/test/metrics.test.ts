// Goal: a histogram made by createTalliedHistogram, whose observations wait in
// plain numbers until a scrape, shows on /metrics exactly what a plain
// prom-client histogram shows after the same observations: every bucket
// (values on a bound, between bounds, above all bounds), sum, count and
// exemplars, across several scrapes, with label sets observed from several
// tallies and straight through observe(), and after a reset.
import assert from "node:assert/strict";
import { Histogram, Registry } from "prom-client";
import { createTalliedHistogram, histogramTallyOf } from "../src/metrics.ts";

const buckets = [0.001, 0.01, 0.1, 1];
type Label = "method" | "code";

function histograms() {
  const plainRegistry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  plainRegistry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const talliedRegistry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  talliedRegistry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const configuration = {
    name: "rpc_test_seconds",
    help: "test",
    labelNames: ["method", "code"] as Label[],
    buckets,
    enableExemplars: true,
  };
  const plain = new Histogram<Label>({ ...configuration, registers: [plainRegistry] });
  const tallied = createTalliedHistogram<Label>({ ...configuration, registers: [talliedRegistry] });
  return { plain, tallied, plainRegistry, talliedRegistry };
}

/** The exposition without exemplar timestamps, which differ between two observations by design. */
async function exposition(registry: Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>): Promise<string> {
  return (await registry.metrics()).replace(/(# \{[^}]*\} \S+) \S+/g, "$1");
}

describe("tallied histogram", () => {
  it("exports the same buckets, sum, count and exemplars as observing each value", async () => {
    const { plain, tallied, plainRegistry, talliedRegistry } = histograms();
    const echoOk = { method: "Echo", code: "OK" };
    // The same label values written in another order, as another interceptor might: one series.
    const echoOkAgain = { code: "OK", method: "Echo" };
    const echoFailed = { method: "Echo", code: "INTERNAL" };
    const first = histogramTallyOf(tallied, echoOk);
    const second = histogramTallyOf(tallied, echoOkAgain);
    const failed = histogramTallyOf(tallied, echoFailed);
    const observeBoth = (labels: Record<Label, string>, tally: { observe(value: number): void }, value: number) => {
      plain.observe({ labels, value });
      tally.observe(value);
    };
    // On a bound, between bounds, below the first and above the last.
    for (const value of [0.001, 0.0005, 0.05, 0.1, 0.7, 3, 12.5]) observeBoth(echoOk, first, value);
    observeBoth(echoOkAgain, second, 0.002);
    observeBoth(echoFailed, failed, 0.2);
    // An observation with an exemplar goes to the histogram itself, beside the tallied ones.
    // prom-client types exemplar labels like metric labels; OpenMetrics allows any.
    const exemplarLabels = { trace_id: "0af7651916cd43dd8448eb211c80319c" } as Record<string, string>;
    const exemplar = { labels: echoOk, value: 0.03, exemplarLabels };
    plain.observe(exemplar);
    tallied.observe(exemplar);
    assert.equal(await exposition(talliedRegistry), await exposition(plainRegistry));
    assert.match(await exposition(talliedRegistry), /rpc_test_seconds_count\{method="Echo",code="OK"\} 9/);

    // A second scrape adds only what came since, and a scrape with nothing new changes nothing.
    observeBoth(echoOk, first, 0.004);
    observeBoth(echoFailed, failed, 2);
    assert.equal(await exposition(talliedRegistry), await exposition(plainRegistry));
    assert.equal(await exposition(talliedRegistry), await exposition(plainRegistry));
    assert.match(await exposition(talliedRegistry), /rpc_test_seconds_count\{method="Echo",code="OK"\} 10/);

    // After a reset, only what is observed afterwards counts, on both, also what was pending at the reset.
    observeBoth(echoOk, first, 0.5);
    plain.reset();
    tallied.reset();
    observeBoth(echoFailed, failed, 0.0001);
    assert.equal(await exposition(talliedRegistry), await exposition(plainRegistry));
    assert.match(await exposition(talliedRegistry), /rpc_test_seconds_count\{method="Echo",code="INTERNAL"\} 1/);
    assert.doesNotMatch(await exposition(talliedRegistry), /method="Echo",code="OK"/);
  });

  it("refuses a value that is not a finite number, as prom-client does", () => {
    const { tallied } = histograms();
    assert.throws(() => histogramTallyOf(tallied, { method: "Echo", code: "OK" }).observe(Number.NaN), TypeError);
  });
});
