// Prometheus recording and alerting rules, built here so the per-service
// latency objectives come from one table and every expression can be listed
// for the acceptance test. `generate.ts` writes them as a Prometheus rule file;
// promtool checks and unit-tests that file.
import { scrapeJobName, serverErrorCodes, serviceNames } from "./metrics-catalog.ts";
import { errorRatioObjective, latencyObjectives, streamingMethodPattern } from "./service-levels.ts";

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<{ summary: string; description: string; runbook_url: string }>;
}

export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: readonly (RecordingRule | AlertingRule)[];
}

/**
 * Where runbooks live when the rule file is used as it is. The Helm chart
 * swaps this prefix for `prometheusRule.runbookBaseUrl`.
 */
export const defaultRunbookBaseUrl = "https://github.com/trustmesh/trustmesh/blob/main/observability/runbooks.md";

/** GitHub's heading anchor: lower case, spaces to dashes. */
function runbook(alert: string): string {
  return `${defaultRunbookBaseUrl}#${alert.toLowerCase()}`;
}

const errorCodeRegex = serverErrorCodes.join("|");
/** Rates below this (requests per second, about 30 in five minutes) are too few for a ratio to mean anything. */
const errorRatioMinimumRate = 0.1;
const up = `up{job="${scrapeJobName}"}`;

const recordingRules: readonly RecordingRule[] = [
  {
    record: "app:rpc_server_requests:rate5m",
    expr: "sum by (namespace, app) (rate(rpc_server_requests_total[5m]))",
  },
  {
    // The `or` keeps a zero series for services without errors, so the ratio exists whenever there is traffic.
    record: "app:rpc_server_errors:rate5m",
    expr: `sum by (namespace, app) (rate(rpc_server_requests_total{code=~"${errorCodeRegex}"}[5m])) or sum by (namespace, app) (rate(rpc_server_requests_total[5m])) * 0`,
  },
  {
    record: "app:rpc_server_error_ratio:rate5m",
    expr: "app:rpc_server_errors:rate5m / app:rpc_server_requests:rate5m",
  },
  {
    record: "app:rpc_server_duration_seconds:p95_5m",
    expr: `histogram_quantile(0.95, sum by (namespace, app, le) (rate(rpc_server_duration_seconds_bucket{method!~"${streamingMethodPattern}"}[5m])))`,
  },
  {
    record: "app_method:rpc_server_duration_seconds:p95_5m",
    expr: `histogram_quantile(0.95, sum by (namespace, app, service, method, le) (rate(rpc_server_duration_seconds_bucket{method!~"${streamingMethodPattern}"}[5m])))`,
  },
];

const platformAlerts: readonly AlertingRule[] = [
  {
    alert: "TrustmeshInstanceDown",
    expr: `${up} == 0`,
    for: "2m",
    labels: { severity: "warning" },
    annotations: {
      summary: "A Trustmesh {{ $labels.app }} instance cannot be scraped.",
      description: "Prometheus has failed to scrape {{ $labels.instance }} ({{ $labels.app }}) for 2 minutes.",
      runbook_url: runbook("TrustmeshInstanceDown"),
    },
  },
  {
    alert: "TrustmeshServiceDown",
    expr: `sum by (namespace, app) (${up}) == 0`,
    for: "2m",
    labels: { severity: "critical" },
    annotations: {
      summary: "No instance of Trustmesh {{ $labels.app }} is up.",
      description: "Every scraped instance of {{ $labels.app }} in {{ $labels.namespace }} has been down for 2 minutes.",
      runbook_url: runbook("TrustmeshServiceDown"),
    },
  },
  ...serviceNames.map(
    (name): AlertingRule => ({
      alert: "TrustmeshServiceAbsent",
      expr: `absent(up{job="${scrapeJobName}", app="${name}"})`,
      for: "5m",
      // The app label keeps the six rules distinct (promtool rejects duplicates) and matches absent()'s output.
      labels: { severity: "critical", app: name },
      annotations: {
        summary: `Prometheus has no target for Trustmesh ${name}.`,
        description: `No ${name} target has been discovered for 5 minutes: the Deployment, its Service or the ServiceMonitor is gone.`,
        runbook_url: runbook("TrustmeshServiceAbsent"),
      },
    }),
  ),
  {
    alert: "TrustmeshHighErrorRatio",
    expr: `app:rpc_server_error_ratio:rate5m > ${errorRatioObjective} and on (namespace, app) app:rpc_server_requests:rate5m > ${errorRatioMinimumRate}`,
    for: "5m",
    labels: { severity: "critical" },
    annotations: {
      summary: "Trustmesh {{ $labels.app }} fails more than 1% of RPCs.",
      description: `{{ $value | humanizePercentage }} of {{ $labels.app }}'s RPCs ended with a server error (${serverErrorCodes.join(", ")}) over 5 minutes.`,
      runbook_url: runbook("TrustmeshHighErrorRatio"),
    },
  },
  ...serviceNames.map(
    (name): AlertingRule => ({
      alert: "TrustmeshLatencyAboveObjective",
      expr: `app:rpc_server_duration_seconds:p95_5m{app="${name}"} > ${latencyObjectives[name].p95Seconds}`,
      for: "10m",
      labels: { severity: "warning", app: name },
      annotations: {
        summary: `Trustmesh ${name} is slower than its objective (p95 ${latencyObjectives[name].p95Seconds} s).`,
        description: `The 95th percentile of ${name}'s unary RPCs has been {{ $value | humanizeDuration }} for 10 minutes. ${latencyObjectives[name].why}`,
        runbook_url: runbook("TrustmeshLatencyAboveObjective"),
      },
    }),
  ),
  {
    alert: "TrustmeshDatabasePoolExhausted",
    expr: 'max by (namespace, app, instance) (db_pool_connections{state="waiting"}) > 0',
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary: "Trustmesh {{ $labels.app }} waits for Postgres connections.",
      description: "{{ $labels.instance }} has had queries waiting for a pooled connection for 5 minutes.",
      runbook_url: runbook("TrustmeshDatabasePoolExhausted"),
    },
  },
];

const businessAlerts: readonly AlertingRule[] = [
  {
    alert: "TrustmeshLedgerReconciliationFailing",
    expr: "min by (namespace, app) (ledger_reconciliation_ok) == 0",
    labels: { severity: "critical" },
    annotations: {
      summary: "Ledger balances no longer match their entries.",
      description: "The last reconciliation found an account whose balance differs from the sum of its entries.",
      runbook_url: runbook("TrustmeshLedgerReconciliationFailing"),
    },
  },
  {
    alert: "TrustmeshLedgerHashChainBroken",
    expr: "min by (namespace, app) (ledger_chain_ok) == 0",
    labels: { severity: "critical" },
    annotations: {
      summary: "The ledger's hash chain does not verify.",
      description: "An entry's hash does not match its content or its predecessor: entries were changed outside the service.",
      runbook_url: runbook("TrustmeshLedgerHashChainBroken"),
    },
  },
  {
    alert: "TrustmeshAuditChainBroken",
    expr: "min by (namespace, app) (healthprocessing_audit_chain_ok) == 0",
    labels: { severity: "critical" },
    annotations: {
      summary: "The health-processing audit log does not verify.",
      description: "An audit record's hash does not match its content or its predecessor: the log was tampered with.",
      runbook_url: runbook("TrustmeshAuditChainBroken"),
    },
  },
  {
    alert: "TrustmeshJobQueueBacklogGrowing",
    expr: "max by (namespace, app) (healthprocessing_queue_depth) > 100 and on (namespace, app) max by (namespace, app) (deriv(healthprocessing_queue_depth[15m])) > 0",
    for: "15m",
    labels: { severity: "warning" },
    annotations: {
      summary: "health-processing's job queue keeps growing.",
      description: "{{ $value }} jobs are waiting and the queue has grown for 15 minutes: workers do not keep up.",
      runbook_url: runbook("TrustmeshJobQueueBacklogGrowing"),
    },
  },
  {
    alert: "TrustmeshRefreshTokenReuseSpike",
    expr: "sum by (namespace, app) (increase(auth_refresh_token_reuse_total[10m])) > 10",
    labels: { severity: "warning" },
    annotations: {
      summary: "Many reused refresh tokens: stolen tokens are being replayed.",
      description:
        "{{ $value | humanize }} refresh tokens were presented again after rotation in 10 minutes; each revoked its session family.",
      runbook_url: runbook("TrustmeshRefreshTokenReuseSpike"),
    },
  },
  {
    alert: "TrustmeshLockoutSpike",
    expr: "sum by (namespace, app) (increase(auth_lockouts_total[10m])) > 25",
    labels: { severity: "warning" },
    annotations: {
      summary: "Many accounts locked out: a password-guessing attack is likely.",
      description: "{{ $value | humanize }} accounts were locked in 10 minutes.",
      runbook_url: runbook("TrustmeshLockoutSpike"),
    },
  },
];

export const ruleGroups: readonly RuleGroup[] = [
  { name: "trustmesh.rpc.recording", interval: "30s", rules: recordingRules },
  { name: "trustmesh.platform.alerts", rules: platformAlerts },
  { name: "trustmesh.business.alerts", rules: businessAlerts },
];

export function isAlertingRule(rule: RecordingRule | AlertingRule): rule is AlertingRule {
  return "alert" in rule;
}

/** Names that recording rules produce; expressions may use them like exported metrics. */
export const recordedSeriesNames: readonly string[] = recordingRules.map((rule) => rule.record);
