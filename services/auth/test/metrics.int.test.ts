// Goal: the real auth process exports every business metric the
// observability catalog lists for auth, with the catalog's labels, from the
// moment it starts: each label combination is there at 0 before anything
// happened, so rate() sees the first event and dashboards show 0, not "no
// data". The catalog is the observability workspace's own list, so a renamed
// metric or label on either side fails here.
import assert from "node:assert/strict";
import { businessMetrics } from "../../../observability/src/metrics-catalog.ts";
import { codeChannels, codeFlows, loginOutcomes, mfaMethods, mfaOutcomes, refreshOutcomes } from "../src/auth-metrics.ts";
import { metricValue, useAuth } from "./support/auth-harness.ts";

describe("auth: business metrics", function () {
  this.timeout(60_000);
  const auth = useAuth();

  it("exports every catalog metric of auth with its labels, each combination at zero before any traffic", async () => {
    const text = await (await fetch(auth.metricsUrl)).text();
    const catalog = businessMetrics.filter((metric) => metric.owner === "auth");
    assert.ok(catalog.length >= 7);
    for (const metric of catalog) {
      const samples = text.split("\n").filter((line) => line.startsWith(`${metric.name}{`) || line.startsWith(`${metric.name} `));
      assert.ok(samples.length > 0, `${metric.name} is exported`);
      for (const sample of samples) {
        const labels = [...(/\{(.*)\}/.exec(sample)?.[1] ?? "").matchAll(/(\w+)="/g)].map((match) => match[1]);
        assert.deepEqual(labels.sort(), [...metric.labels].sort(), `${metric.name} carries the catalog's labels`);
      }
    }
    const expected: [string, Record<string, string>][] = [
      ...loginOutcomes.map((outcome): [string, Record<string, string>] => ["auth_logins_total", { outcome }]),
      ...mfaMethods.flatMap((method) =>
        mfaOutcomes.map((outcome): [string, Record<string, string>] => ["auth_mfa_total", { method, outcome }]),
      ),
      ...refreshOutcomes.map((outcome): [string, Record<string, string>] => ["auth_token_refreshes_total", { outcome }]),
      ["auth_refresh_token_reuse_total", {}],
      ["auth_lockouts_total", {}],
      ...codeChannels.flatMap((channel) =>
        codeFlows.flatMap((flow): [string, Record<string, string>][] => [
          ["auth_verification_codes_sent_total", { channel, flow }],
          ["auth_verification_codes_confirmed_total", { channel, flow }],
        ]),
      ),
      ["auth_outbox_deliveries_total", { topic: "contact.verified", outcome: "delivered" }],
      ["auth_outbox_deliveries_total", { topic: "contact.verified", outcome: "failed" }],
    ];
    for (const [name, labels] of expected) {
      assert.equal(await metricValue(auth, name, labels), 0, `${name} ${JSON.stringify(labels)} starts at 0`);
    }
  });
});
