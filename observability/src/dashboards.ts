// Grafana dashboards, built with the Grafana Foundation SDK: a platform
// overview and one per service. Every query is also kept in `dashboardQueries`
// so the acceptance test can run each against a real Prometheus.
import {
  type Dashboard,
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanelBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import { type ServiceName, scrapeJobName, serverErrorCodes, serviceNames } from "./metrics-catalog.ts";
import { streamingMethodPattern } from "./service-levels.ts";

export interface DashboardQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly expr: string;
  /** True when a healthy platform may have no series for it (no errors, no waiting clients, no pending metric yet). */
  readonly mayBeEmpty: boolean;
}

export interface GeneratedDashboard {
  readonly fileName: string;
  readonly uid: string;
  readonly json: Dashboard;
}

/** Grafana's own variable syntax: every panel uses the dashboard's data source variable. */
const datasource = { type: "prometheus", uid: ["$", "{datasource}"].join("") };
const errorCodes = serverErrorCodes.join("|");

interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: { expr: string; legend: string }[];
  mayBeEmpty?: boolean;
  kind?: "timeseries" | "stat";
}

/** Collects panels for one dashboard and records their queries. */
class DashboardAssembler {
  readonly builder: DashboardBuilder;
  readonly queries: DashboardQuery[] = [];
  readonly uid: string;

  constructor(uid: string, title: string, description: string, tags: string[]) {
    this.uid = uid;
    this.builder = new DashboardBuilder(title)
      .uid(uid)
      .description(description)
      .tags(["trustmesh", ...tags])
      .refresh("30s")
      .time({ from: "now-3h", to: "now" })
      .timezone("browser")
      .editable()
      .withVariable(new DatasourceVariableBuilder("datasource").label("Data source").type("prometheus"))
      .withVariable(
        new QueryVariableBuilder("namespace")
          .label("Namespace")
          .datasource(datasource)
          .query(`label_values(up{job="${scrapeJobName}"}, namespace)`)
          .includeAll(true)
          .allValue(".*")
          .multi(true)
          .refresh(2),
      );
  }

  variable(variable: QueryVariableBuilder): this {
    this.builder.withVariable(variable);
    return this;
  }

  row(title: string): this {
    this.builder.withRow(new RowBuilder(title));
    return this;
  }

  panel(spec: PanelSpec): this {
    const panel = spec.kind === "stat" ? new StatPanelBuilder() : new TimeseriesPanelBuilder();
    panel
      .title(spec.title)
      .description(spec.description)
      .unit(spec.unit)
      .datasource(datasource)
      .height(8)
      .span(spec.kind === "stat" ? 6 : 12);
    spec.queries.forEach((query, index) => {
      panel.withTarget(
        new DataqueryBuilder()
          .expr(query.expr)
          .legendFormat(query.legend)
          .refId(String.fromCharCode(65 + index)),
      );
      this.queries.push({ dashboard: this.uid, panel: spec.title, expr: query.expr, mayBeEmpty: spec.mayBeEmpty ?? false });
    });
    this.builder.withPanel(panel);
    return this;
  }

  build(fileName: string): { dashboard: GeneratedDashboard; queries: DashboardQuery[] } {
    return { dashboard: { fileName, uid: this.uid, json: this.builder.build() }, queries: this.queries };
  }
}

/** RPC panels for a label selector: the overview's (all services) and each service's own. */
function addRpcPanels(assembler: DashboardAssembler, selector: string, by: string): void {
  const unary = `${selector}, method!~"${streamingMethodPattern}"`;
  const quantile = (q: number) =>
    `histogram_quantile(${q}, sum by (${by}, le) (rate(rpc_server_duration_seconds_bucket{${unary}}[$__rate_interval])))`;
  assembler
    .row("Traffic, errors, latency")
    .panel({
      title: "Requests per second",
      description: "RPCs handled, all transports (gRPC, Connect, gRPC-Web).",
      unit: "reqps",
      queries: [{ expr: `sum by (${by}) (rate(rpc_server_requests_total{${selector}}[$__rate_interval]))`, legend: `{{${by}}}` }],
    })
    .panel({
      title: "Server error ratio",
      description: `Share of RPCs ending in ${serverErrorCodes.join(", ")}: failures of the service, not of the caller. Alert at 1%.`,
      unit: "percentunit",
      mayBeEmpty: true,
      queries: [
        {
          expr: `sum by (${by}) (rate(rpc_server_requests_total{${selector}, code=~"${errorCodes}"}[$__rate_interval])) / sum by (${by}) (rate(rpc_server_requests_total{${selector}}[$__rate_interval]))`,
          legend: `{{${by}}}`,
        },
      ],
    })
    .panel({
      title: "Latency p50 / p95 / p99",
      description: "Unary RPC duration quantiles (Watch streams excluded: their duration is a subscription's life).",
      unit: "s",
      queries: [
        { expr: quantile(0.5), legend: `p50 {{${by}}}` },
        { expr: quantile(0.95), legend: `p95 {{${by}}}` },
        { expr: quantile(0.99), legend: `p99 {{${by}}}` },
      ],
    })
    .panel({
      title: "Status codes",
      description: "RPCs by status code; caller errors (INVALID_ARGUMENT, UNAUTHENTICATED ...) show here but do not alert.",
      unit: "reqps",
      queries: [
        { expr: `sum by (${by}, code) (rate(rpc_server_requests_total{${selector}}[$__rate_interval]))`, legend: `{{${by}}} {{code}}` },
      ],
    })
    .row("Per method")
    .panel({
      title: "Requests per second by method",
      description: "RPCs handled per method.",
      unit: "reqps",
      queries: [
        {
          expr: `sum by (app, service, method) (rate(rpc_server_requests_total{${selector}}[$__rate_interval]))`,
          legend: "{{service}}/{{method}}",
        },
      ],
    })
    .panel({
      title: "Latency p95 by method",
      description: "95th percentile of unary RPC duration per method.",
      unit: "s",
      queries: [
        {
          expr: `histogram_quantile(0.95, sum by (app, service, method, le) (rate(rpc_server_duration_seconds_bucket{${unary}}[$__rate_interval])))`,
          legend: "{{service}}/{{method}}",
        },
      ],
    })
    .panel({
      title: "Latency p99 by method",
      description: "99th percentile of unary RPC duration per method.",
      unit: "s",
      queries: [
        {
          expr: `histogram_quantile(0.99, sum by (app, service, method, le) (rate(rpc_server_duration_seconds_bucket{${unary}}[$__rate_interval])))`,
          legend: "{{service}}/{{method}}",
        },
      ],
    })
    .panel({
      title: "Errors by method and code",
      description: "Every RPC that did not end OK, per method and code.",
      unit: "reqps",
      mayBeEmpty: true,
      queries: [
        {
          expr: `sum by (app, service, method, code) (rate(rpc_server_requests_total{${selector}, code!="OK"}[$__rate_interval]))`,
          legend: "{{service}}/{{method}} {{code}}",
        },
      ],
    });
}

function addSaturationPanels(assembler: DashboardAssembler, selector: string): void {
  assembler
    .row("Saturation")
    .panel({
      title: "CPU",
      description: "CPU cores used per instance.",
      unit: "short",
      queries: [
        { expr: `sum by (app, instance) (rate(process_cpu_seconds_total{${selector}}[$__rate_interval]))`, legend: "{{app}} {{instance}}" },
      ],
    })
    .panel({
      title: "Event loop lag p99",
      description: "How long ready work waits for the one JavaScript thread: the first sign of CPU saturation.",
      unit: "s",
      queries: [{ expr: `max by (app, instance) (nodejs_eventloop_lag_p99_seconds{${selector}})`, legend: "{{app}} {{instance}}" }],
    })
    .panel({
      title: "Resident memory",
      description: "Resident set size per instance, and the V8 heap in use.",
      unit: "bytes",
      queries: [
        { expr: `sum by (app, instance) (process_resident_memory_bytes{${selector}})`, legend: "rss {{app}} {{instance}}" },
        { expr: `sum by (app, instance) (nodejs_heap_size_used_bytes{${selector}})`, legend: "heap {{app}} {{instance}}" },
      ],
    })
    .panel({
      title: "Postgres pool",
      description: "Pooled connections in use and clients waiting for one; waiting above zero for long alerts.",
      unit: "short",
      queries: [
        {
          expr: `sum by (app) (db_pool_connections{${selector}, state="total"}) - sum by (app) (db_pool_connections{${selector}, state="idle"})`,
          legend: "in use {{app}}",
        },
        { expr: `sum by (app) (db_pool_connections{${selector}, state="waiting"})`, legend: "waiting {{app}}" },
      ],
    })
    .panel({
      title: "Garbage collection",
      description: "Seconds per second spent in garbage collection, by kind.",
      unit: "percentunit",
      // A quiet process (face does its work in worker threads) can go a whole
      // rate window without a collection on its main thread.
      mayBeEmpty: true,
      queries: [
        { expr: `sum by (app, kind) (rate(nodejs_gc_duration_seconds_sum{${selector}}[$__rate_interval]))`, legend: "{{app}} {{kind}}" },
      ],
    })
    .panel({
      title: "File descriptors",
      description: "Open file descriptors as a share of the limit.",
      unit: "percentunit",
      queries: [
        { expr: `max by (app, instance) (process_open_fds{${selector}} / process_max_fds{${selector}})`, legend: "{{app}} {{instance}}" },
      ],
    });
}

function buildOverview(): { dashboard: GeneratedDashboard; queries: DashboardQuery[] } {
  const assembler = new DashboardAssembler(
    "trustmesh-overview",
    "Trustmesh / Overview",
    "Request rate, errors, latency and saturation of every Trustmesh service.",
    ["overview"],
  ).variable(
    new QueryVariableBuilder("app")
      .label("Service")
      .datasource(datasource)
      .query(`label_values(up{job="${scrapeJobName}"}, app)`)
      .includeAll(true)
      .allValue(".*")
      .multi(true)
      .refresh(2),
  );
  const selector = 'namespace=~"$namespace", app=~"$app"';
  assembler.row("Availability").panel({
    title: "Instances up",
    description: "Scraped instances per service that answer /metrics.",
    unit: "short",
    queries: [{ expr: `sum by (app) (up{job="${scrapeJobName}", ${selector}})`, legend: "{{app}}" }],
  });
  addRpcPanels(assembler, selector, "app");
  addSaturationPanels(assembler, selector);
  assembler
    .row("Calls between services")
    .panel({
      title: "Outgoing RPCs",
      description: "RPCs each service sends to another, by target method and code.",
      unit: "reqps",
      queries: [
        {
          expr: `sum by (app, service, method, code) (rate(rpc_client_requests_total{${selector}}[$__rate_interval]))`,
          legend: "{{app}} → {{service}}/{{method}} {{code}}",
        },
      ],
    })
    .panel({
      title: "Outgoing RPC latency p95",
      description: "How long other services take to answer, as the caller sees it.",
      unit: "s",
      queries: [
        {
          expr: `histogram_quantile(0.95, sum by (app, service, method, le) (rate(rpc_client_duration_seconds_bucket{${selector}}[$__rate_interval])))`,
          legend: "{{app}} → {{service}}/{{method}}",
        },
      ],
    });
  return assembler.build("trustmesh-overview.json");
}

/** The business panels of each service, from the metrics catalog's names. */
const businessPanels: Readonly<Record<ServiceName, (selector: string) => PanelSpec[]>> = {
  // auth creates every label combination of its counters at zero when it
  // starts, so each of these panels has data on a healthy platform.
  auth: (s) => [
    {
      title: "Logins by outcome",
      description: "Sign-in attempts (password, passkey alone) per second by outcome.",
      unit: "reqps",
      mayBeEmpty: false,
      queries: [{ expr: `sum by (outcome) (rate(auth_logins_total{${s}}[$__rate_interval]))`, legend: "{{outcome}}" }],
    },
    {
      title: "MFA by method and outcome",
      description:
        "Second-factor checks per second: TOTP, recovery codes, passkeys; succeeded, rejected, replayed, counter regressed (a cloned key?), exhausted.",
      unit: "reqps",
      mayBeEmpty: false,
      queries: [{ expr: `sum by (method, outcome) (rate(auth_mfa_total{${s}}[$__rate_interval]))`, legend: "{{method}} {{outcome}}" }],
    },
    {
      title: "Token refreshes and reuse",
      description: "Refresh-token exchanges by outcome (rotated, reused, invalid), and reused tokens that revoked their family.",
      unit: "reqps",
      mayBeEmpty: false,
      queries: [
        { expr: `sum by (outcome) (rate(auth_token_refreshes_total{${s}}[$__rate_interval]))`, legend: "{{outcome}}" },
        { expr: `sum(rate(auth_refresh_token_reuse_total{${s}}[$__rate_interval]))`, legend: "reuse detected" },
      ],
    },
    {
      title: "Lockouts",
      description: "Accounts locked per 10 minutes.",
      unit: "short",
      mayBeEmpty: false,
      queries: [{ expr: `sum(increase(auth_lockouts_total{${s}}[10m]))`, legend: "lockouts" }],
    },
    {
      title: "Verification codes",
      description: "Codes sent and confirmed per channel and flow (contact verification, password reset).",
      unit: "reqps",
      mayBeEmpty: false,
      queries: [
        {
          expr: `sum by (channel, flow) (rate(auth_verification_codes_sent_total{${s}}[$__rate_interval]))`,
          legend: "sent {{channel}} {{flow}}",
        },
        {
          expr: `sum by (channel, flow) (rate(auth_verification_codes_confirmed_total{${s}}[$__rate_interval]))`,
          legend: "confirmed {{channel}} {{flow}}",
        },
      ],
    },
  ],
  payments: (s) => [
    {
      title: "Payments by state and currency",
      description: "Payments reaching each state per second.",
      unit: "reqps",
      queries: [{ expr: `sum by (state, currency) (rate(payments_total{${s}}[$__rate_interval]))`, legend: "{{state}} {{currency}}" }],
    },
    {
      title: "Payments per hour by currency",
      description: "Payments of every state per hour, by currency.",
      unit: "short",
      queries: [{ expr: `sum by (currency) (increase(payments_total{${s}}[1h]))`, legend: "{{currency}}" }],
    },
  ],
  ledger: (s) => [
    {
      title: "Postings by currency",
      description: "Postings written per second.",
      unit: "reqps",
      queries: [{ expr: `sum by (currency) (rate(ledger_postings_total{${s}}[$__rate_interval]))`, legend: "{{currency}}" }],
    },
    {
      title: "Batch size",
      description: "Transactions per committed batch, median and 95th percentile.",
      unit: "short",
      queries: [
        { expr: `histogram_quantile(0.5, sum by (le) (rate(ledger_batch_size_bucket{${s}}[$__rate_interval])))`, legend: "p50" },
        { expr: `histogram_quantile(0.95, sum by (le) (rate(ledger_batch_size_bucket{${s}}[$__rate_interval])))`, legend: "p95" },
      ],
    },
    {
      title: "Pending transactions",
      description: "Two-phase transactions posted as pending and not yet posted or voided.",
      unit: "short",
      queries: [{ expr: `max(ledger_pending_transactions{${s}})`, legend: "pending" }],
    },
    {
      title: "Chain length",
      description: "Entries in the hash chain.",
      unit: "short",
      queries: [{ expr: `max(ledger_chain_length{${s}})`, legend: "entries" }],
    },
    {
      title: "Reconciliation",
      description: "1: every balance equals the sum of its entries. 0: alerting.",
      unit: "bool_yes_no",
      kind: "stat",
      queries: [{ expr: `min(ledger_reconciliation_ok{${s}})`, legend: "reconciled" }],
    },
    {
      title: "Hash chain",
      description: "1: the entries' hash chain verifies. 0: alerting.",
      unit: "bool_yes_no",
      kind: "stat",
      queries: [{ expr: `min(ledger_chain_ok{${s}})`, legend: "chain ok" }],
    },
  ],
  credential: (s) => [
    {
      title: "Credentials issued by type",
      description: "Credentials issued per second, by type and format.",
      unit: "reqps",
      mayBeEmpty: false,
      queries: [{ expr: `sum by (type, format) (rate(credential_issued_total{${s}}[$__rate_interval]))`, legend: "{{type}} {{format}}" }],
    },
    {
      title: "Credentials issued per day",
      description: "Credentials issued in the last 24 hours, by type.",
      unit: "short",
      mayBeEmpty: false,
      queries: [{ expr: `sum by (type) (increase(credential_issued_total{${s}}[1d]))`, legend: "{{type}}" }],
    },
    {
      title: "Verifications by outcome",
      description: "Credential and presentation verifications per second: verified, or the first failing check's reason.",
      unit: "reqps",
      mayBeEmpty: false,
      queries: [
        {
          expr: `sum by (kind, outcome) (rate(credential_verifications_total{${s}}[$__rate_interval]))`,
          legend: "{{kind}} {{outcome}}",
        },
      ],
    },
    {
      title: "Status changes",
      description: "Revocations, suspensions and reinstatements per second.",
      unit: "reqps",
      mayBeEmpty: false,
      queries: [{ expr: `sum by (action) (rate(credential_status_changes_total{${s}}[$__rate_interval]))`, legend: "{{action}}" }],
    },
  ],
  "health-processing": (s) => [
    {
      title: "Jobs by state",
      description: "Document jobs reaching each state per second.",
      unit: "reqps",
      queries: [{ expr: `sum by (state) (rate(healthprocessing_jobs_total{${s}}[$__rate_interval]))`, legend: "{{state}}" }],
    },
    {
      title: "Queue depth",
      description: "Jobs waiting for a worker; growing for 15 minutes above 100 alerts.",
      unit: "short",
      queries: [{ expr: `max(healthprocessing_queue_depth{${s}})`, legend: "waiting" }],
    },
    {
      title: "Audit log chain",
      description: "1: the audit log's hash chain verifies. 0: alerting.",
      unit: "bool_yes_no",
      kind: "stat",
      queries: [{ expr: `min(healthprocessing_audit_chain_ok{${s}})`, legend: "chain ok" }],
    },
  ],
  face: (s) => [
    {
      title: "Validations by outcome",
      description: "Face validations per second.",
      unit: "reqps",
      queries: [{ expr: `sum by (outcome) (rate(face_validations_total{${s}}[$__rate_interval]))`, legend: "{{outcome}}" }],
    },
    {
      title: "Match rate",
      description: "Share of comparisons that matched the reference face.",
      unit: "percentunit",
      queries: [
        {
          expr: `sum(rate(face_matches_total{${s}, result="match"}[$__rate_interval])) / sum(rate(face_matches_total{${s}}[$__rate_interval]))`,
          legend: "match rate",
        },
      ],
    },
  ],
};

const serviceTitles: Readonly<Record<ServiceName, string>> = {
  auth: "Auth: logins, MFA, tokens, verification",
  payments: "Payments: by state and currency",
  ledger: "Ledger: postings and reconciliation",
  credential: "Credential: issuance",
  "health-processing": "Health processing: jobs and queue",
  face: "Face: validations and matches",
};

function buildServiceDashboard(name: ServiceName): { dashboard: GeneratedDashboard; queries: DashboardQuery[] } {
  const assembler = new DashboardAssembler(
    `trustmesh-${name}`,
    `Trustmesh / ${serviceTitles[name]}`,
    `The ${name} service: RPCs and business metrics.`,
    [name],
  );
  const selector = `namespace=~"$namespace", app="${name}"`;
  addRpcPanels(assembler, selector, "app");
  assembler.row("Business");
  // Until a service's issue lands its metrics, its panels are empty; a panel whose
  // series exist from the first scrape (counters created at zero) says mayBeEmpty: false.
  for (const panel of businessPanels[name](selector)) assembler.panel({ ...panel, mayBeEmpty: panel.mayBeEmpty ?? true });
  addSaturationPanels(assembler, selector);
  return assembler.build(`trustmesh-${name}.json`);
}

const built = [buildOverview(), ...serviceNames.map(buildServiceDashboard)];

export const dashboards: readonly GeneratedDashboard[] = built.map((entry) => entry.dashboard);
export const dashboardQueries: readonly DashboardQuery[] = built.flatMap((entry) => entry.queries);
