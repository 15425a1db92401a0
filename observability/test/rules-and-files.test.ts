// Goal: the alerting and recording rules are sound by Prometheus' own tools
// (promtool check rules, promtool test rules), each alert has a runbook that
// exists, a severity, and promtool tests where it fires and where it stays
// quiet; the generated rule file and dashboards are up to date; every
// dashboard query parses; the OpenTelemetry Collector config wires every
// component it defines.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import {
  dashboardQueries,
  dashboards,
  isAlertingRule,
  repositoryRoot,
  ruleGroups,
  rulesFilePath,
  selectorsOf,
  staleFiles,
  withGrafanaVariables,
} from "../src/index.ts";

const testsDirectory = join(repositoryRoot, "observability", "prometheus", "tests");
const testFiles = readdirSync(testsDirectory)
  .filter((name) => name.endsWith(".test.yaml"))
  .map((name) => join(testsDirectory, name));

function promtool(args: string[]): string {
  try {
    return execFileSync("promtool", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(" ")} failed:\n${failure.stdout ?? ""}${failure.stderr ?? failure.message}`);
  }
}

const alerts = ruleGroups.flatMap((group) => group.rules.filter(isAlertingRule));

describe("Prometheus rules", () => {
  it("pass promtool check rules", () => {
    assert.match(promtool(["check", "rules", join(repositoryRoot, rulesFilePath)]), /SUCCESS: \d+ rules found/);
  });

  it("pass promtool test rules", () => {
    assert.ok(testFiles.length >= 2);
    const output = promtool(["test", "rules", ...testFiles]);
    assert.doesNotMatch(output, /FAILED/);
  });

  it("give each alert a severity, a summary, a description and a runbook section that exists", () => {
    const runbooks = readFileSync(join(repositoryRoot, "observability", "runbooks.md"), "utf8");
    const anchors = new Set([...runbooks.matchAll(/^## (\S+)$/gm)].map((match) => (match[1] as string).toLowerCase()));
    for (const alert of alerts) {
      assert.ok(["warning", "critical"].includes(alert.labels.severity as string), `${alert.alert} severity`);
      assert.ok(alert.annotations.summary.length > 10 && alert.annotations.description.length > 10, alert.alert);
      const anchor = alert.annotations.runbook_url.split("#")[1] ?? "";
      assert.ok(anchors.has(anchor), `${alert.alert}: runbooks.md has no section for #${anchor}`);
    }
  });

  it("have promtool tests where each alert fires and where it stays quiet", () => {
    type AlertTest = { alertname: string; exp_alerts?: unknown[] };
    const cases = testFiles.flatMap((file) =>
      ((parse(readFileSync(file, "utf8")) as { tests: { alert_rule_test?: AlertTest[] }[] }).tests ?? []).flatMap(
        (test) => test.alert_rule_test ?? [],
      ),
    );
    for (const name of new Set(alerts.map((alert) => alert.alert))) {
      assert.ok(
        cases.some((entry) => entry.alertname === name && (entry.exp_alerts?.length ?? 0) > 0),
        `${name} has a firing test`,
      );
      assert.ok(
        cases.some((entry) => entry.alertname === name && (entry.exp_alerts?.length ?? 0) === 0),
        `${name} has a quiet test`,
      );
    }
  });
});

describe("generated dashboards and rule file", () => {
  it("are up to date (run node observability/src/generate.ts after changing observability/src)", () => {
    assert.deepEqual(staleFiles(), []);
  });

  it("give every dashboard a unique uid and every query a metric to select", () => {
    assert.equal(new Set(dashboards.map((dashboard) => dashboard.uid)).size, dashboards.length);
    assert.equal(dashboards.length, 7);
    for (const entry of dashboardQueries) {
      const selectors = selectorsOf(withGrafanaVariables(entry.expr, "1m"));
      assert.ok(selectors.length > 0 && selectors.every((selector) => selector.metric !== ""), `${entry.dashboard}/${entry.panel}`);
    }
  });

  it("reject a query that does not parse (so the parser's pass means something)", () => {
    assert.throws(() => selectorsOf("sum by (app (rate(x[5m]))"), /PromQL syntax error/);
  });
});

describe("OpenTelemetry Collector config", () => {
  type Pipeline = { receivers: string[]; processors?: string[]; exporters: string[] };
  const config = parse(readFileSync(join(repositoryRoot, "observability", "otel-collector", "config.yaml"), "utf8")) as {
    receivers: Record<string, unknown>;
    processors: Record<string, unknown>;
    exporters: Record<string, unknown>;
    connectors: Record<string, unknown>;
    service: { pipelines: Record<string, Pipeline> };
  };

  it("takes OTLP in, sends traces to an OTLP backend and derives span metrics", () => {
    const traces = config.service.pipelines.traces as Pipeline;
    assert.deepEqual(traces.receivers, ["otlp"]);
    assert.ok(traces.exporters.includes("otlp/traces") && traces.exporters.includes("spanmetrics"));
    assert.equal(traces.processors?.[0], "memory_limiter", "memory_limiter comes first");
    assert.ok(Object.values(config.service.pipelines).some((pipeline) => pipeline.receivers.includes("spanmetrics")));
  });

  it("defines every component a pipeline uses and uses every component it defines", () => {
    const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() };
    for (const pipeline of Object.values(config.service.pipelines)) {
      for (const name of pipeline.receivers) used.receivers.add(name);
      for (const name of pipeline.processors ?? []) used.processors.add(name);
      for (const name of pipeline.exporters) used.exporters.add(name);
    }
    const connectors = Object.keys(config.connectors);
    const defined = (kind: "receivers" | "processors" | "exporters") =>
      new Set([...Object.keys(config[kind]), ...(kind === "processors" ? [] : connectors)]);
    for (const kind of ["receivers", "processors", "exporters"] as const) {
      for (const name of used[kind]) assert.ok(defined(kind).has(name), `${kind}: ${name} is used but not defined`);
      for (const name of Object.keys(config[kind])) assert.ok(used[kind].has(name), `${kind}: ${name} is defined but not used`);
    }
  });
});
