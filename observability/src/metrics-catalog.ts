// Every metric the dashboards and alerts may use, in one place. The
// acceptance test (test/promql-against-platform.int.test.ts) checks each
// expression against a real Prometheus scraping the real services: a metric
// an expression names must be in this catalog, and must be exported, unless
// it is in `pendingBusinessMetrics` below.

export const serviceNames = ["auth", "payments", "ledger", "credential", "health-processing", "face"] as const;
export type ServiceName = (typeof serviceNames)[number];

export type MetricKind = "counter" | "gauge" | "histogram";

export interface CatalogMetric {
  /** The name as exported, without the _bucket/_sum/_count suffixes of a histogram. */
  readonly name: string;
  readonly kind: MetricKind;
  /** Labels the metric carries besides the target labels Prometheus adds (job, instance, namespace, pod ...). */
  readonly labels: readonly string[];
  /** The service that exports it, or "platform" for metrics every service exports. */
  readonly owner: ServiceName | "platform";
  readonly help: string;
}

/** Exported by every service today: the runtime's RPC metrics, pool gauge and prom-client's process defaults. */
export const platformMetrics: readonly CatalogMetric[] = [
  {
    name: "rpc_server_requests_total",
    kind: "counter",
    labels: ["app", "service", "method", "code"],
    owner: "platform",
    help: "RPCs handled, by service, method and status code.",
  },
  {
    name: "rpc_server_duration_seconds",
    kind: "histogram",
    labels: ["app", "service", "method", "code"],
    owner: "platform",
    help: "Time to handle an RPC, in seconds.",
  },
  {
    name: "rpc_client_requests_total",
    kind: "counter",
    labels: ["app", "service", "method", "code"],
    owner: "platform",
    help: "RPCs sent to other services.",
  },
  {
    name: "rpc_client_duration_seconds",
    kind: "histogram",
    labels: ["app", "service", "method", "code"],
    owner: "platform",
    help: "Time until another service answered an RPC, in seconds.",
  },
  {
    name: "db_pool_connections",
    kind: "gauge",
    labels: ["app", "state"],
    owner: "platform",
    help: "Postgres pool connections by state (total, idle, waiting clients).",
  },
  { name: "process_cpu_seconds_total", kind: "counter", labels: ["app"], owner: "platform", help: "CPU time used by the process." },
  { name: "process_resident_memory_bytes", kind: "gauge", labels: ["app"], owner: "platform", help: "Resident memory of the process." },
  { name: "process_open_fds", kind: "gauge", labels: ["app"], owner: "platform", help: "Open file descriptors." },
  { name: "process_max_fds", kind: "gauge", labels: ["app"], owner: "platform", help: "The file descriptor limit." },
  {
    name: "nodejs_eventloop_lag_p99_seconds",
    kind: "gauge",
    labels: ["app"],
    owner: "platform",
    help: "99th percentile of the event loop's lag: how long ready work waits for the CPU.",
  },
  { name: "nodejs_heap_size_used_bytes", kind: "gauge", labels: ["app"], owner: "platform", help: "V8 heap in use." },
  { name: "nodejs_heap_size_total_bytes", kind: "gauge", labels: ["app"], owner: "platform", help: "V8 heap reserved." },
  {
    name: "nodejs_gc_duration_seconds",
    kind: "histogram",
    labels: ["app", "kind"],
    owner: "platform",
    help: "Garbage collection pauses by kind.",
  },
];

/**
 * Each service's own counters and gauges. The names were handed to the helpers
 * building the services; a dashboard or alert uses only names from here.
 */
export const businessMetrics: readonly CatalogMetric[] = [
  {
    name: "auth_logins_total",
    kind: "counter",
    labels: ["app", "outcome"],
    owner: "auth",
    help: "Sign-in attempts (password, passkey alone) by outcome: success, mfa_required, wrong_credentials, locked, unverified, rate_limited.",
  },
  {
    name: "auth_mfa_total",
    kind: "counter",
    labels: ["app", "method", "outcome"],
    owner: "auth",
    help: "Second-factor checks by method (totp, recovery_code, passkey) and outcome (succeeded, rejected, replayed, counter_regressed, exhausted, invalid_token).",
  },
  {
    name: "auth_token_refreshes_total",
    kind: "counter",
    labels: ["app", "outcome"],
    owner: "auth",
    help: "Refresh-token exchanges by outcome: rotated, reused, invalid.",
  },
  {
    name: "auth_refresh_token_reuse_total",
    kind: "counter",
    labels: ["app"],
    owner: "auth",
    help: "Reused refresh tokens: each revoked its whole family.",
  },
  { name: "auth_lockouts_total", kind: "counter", labels: ["app"], owner: "auth", help: "Accounts locked after too many failures." },
  {
    name: "auth_verification_codes_sent_total",
    kind: "counter",
    labels: ["app", "channel", "flow"],
    owner: "auth",
    help: "Verification codes sent, by channel (email, sms) and flow (contact, password_reset).",
  },
  {
    name: "auth_verification_codes_confirmed_total",
    kind: "counter",
    labels: ["app", "channel", "flow"],
    owner: "auth",
    help: "Verification codes confirmed, by channel and flow.",
  },
  {
    name: "ledger_postings_total",
    kind: "counter",
    labels: ["app", "currency", "kind"],
    owner: "ledger",
    help: "Postings written, by currency and transaction kind.",
  },
  { name: "ledger_batch_size", kind: "histogram", labels: ["app"], owner: "ledger", help: "Transactions per committed batch." },
  { name: "ledger_pending_transactions", kind: "gauge", labels: ["app"], owner: "ledger", help: "Two-phase transactions still pending." },
  {
    name: "ledger_reconciliation_ok",
    kind: "gauge",
    labels: ["app"],
    owner: "ledger",
    help: "1 when the last reconciliation matched every balance, else 0.",
  },
  { name: "ledger_chain_length", kind: "gauge", labels: ["app"], owner: "ledger", help: "Entries in the hash chain." },
  { name: "ledger_chain_ok", kind: "gauge", labels: ["app"], owner: "ledger", help: "1 when the last chain verification passed, else 0." },
  {
    name: "payments_total",
    kind: "counter",
    labels: ["app", "state", "currency"],
    owner: "payments",
    help: "Payments reaching a state, by currency.",
  },
  {
    name: "healthprocessing_jobs_total",
    kind: "counter",
    labels: ["app", "state"],
    owner: "health-processing",
    help: "Document jobs reaching a state.",
  },
  {
    name: "healthprocessing_queue_depth",
    kind: "gauge",
    labels: ["app"],
    owner: "health-processing",
    help: "Jobs waiting to be processed.",
  },
  {
    name: "healthprocessing_audit_chain_ok",
    kind: "gauge",
    labels: ["app"],
    owner: "health-processing",
    help: "1 when the audit log's chain verified, else 0.",
  },
  { name: "face_validations_total", kind: "counter", labels: ["app", "outcome"], owner: "face", help: "Face validations by outcome." },
  {
    name: "face_matches_total",
    kind: "counter",
    labels: ["app", "result"],
    owner: "face",
    help: "Face comparisons by result (match, no_match).",
  },
  {
    name: "credential_issued_total",
    kind: "counter",
    labels: ["app", "type", "format"],
    owner: "credential",
    help: "Credentials issued, by type and format.",
  },
  {
    name: "credential_verifications_total",
    kind: "counter",
    labels: ["app", "kind", "outcome"],
    owner: "credential",
    help: "Credential and presentation verifications, by outcome (verified, or the first failure's reason).",
  },
  {
    name: "credential_status_changes_total",
    kind: "counter",
    labels: ["app", "action"],
    owner: "credential",
    help: "Revocations, suspensions and reinstatements that changed a credential's status.",
  },
  {
    name: "credential_dids_created_total",
    kind: "counter",
    labels: ["app", "custody"],
    owner: "credential",
    help: "Holder DIDs created, by who holds the private key.",
  },
];

/**
 * The allowlist of business metrics whose service is not built yet, each with
 * the issue that builds it. The acceptance test lets these be missing from the
 * running platform, prints them loudly, and fails once one of them IS exported,
 * so whoever lands the service also removes its lines here.
 */
export const pendingBusinessMetrics: Readonly<Record<string, { issue: number }>> = {};

/** `up` and the other series Prometheus writes itself for each target. */
export const prometheusTargetMetrics = ["up", "scrape_duration_seconds", "scrape_samples_scraped"] as const;

export const allCatalogMetrics: readonly CatalogMetric[] = [...platformMetrics, ...businessMetrics];

const histogramSuffixes = ["_bucket", "_sum", "_count"] as const;

/** The catalog entry a series name belongs to: `x_bucket` belongs to histogram `x`. */
export function catalogEntryOf(seriesName: string): CatalogMetric | undefined {
  const exact = allCatalogMetrics.find((metric) => metric.name === seriesName && metric.kind !== "histogram");
  if (exact) return exact;
  for (const suffix of histogramSuffixes) {
    if (!seriesName.endsWith(suffix)) continue;
    const base = seriesName.slice(0, -suffix.length);
    const histogram = allCatalogMetrics.find((metric) => metric.name === base && metric.kind === "histogram");
    if (histogram) return histogram;
  }
  return undefined;
}

/** The RPC status codes that mean the service failed, not the caller (gRPC's server-side errors). */
export const serverErrorCodes = ["UNKNOWN", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "DATA_LOSS", "UNIMPLEMENTED"] as const;

/** The job label every Trustmesh target carries (the chart's ServiceMonitor sets it). */
export const scrapeJobName = "trustmesh";
