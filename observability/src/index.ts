export { type DashboardQuery, dashboardQueries, dashboards, type GeneratedDashboard } from "./dashboards.ts";
export { generatedFiles, repositoryRoot, rulesFilePath, staleFiles } from "./generate.ts";
export {
  allCatalogMetrics,
  businessMetrics,
  type CatalogMetric,
  catalogEntryOf,
  pendingBusinessMetrics,
  platformMetrics,
  prometheusTargetMetrics,
  type ServiceName,
  scrapeJobName,
  serviceNames,
} from "./metrics-catalog.ts";
export { selectorsOf, withGrafanaVariables } from "./promql.ts";
export { type AlertingRule, isAlertingRule, type RecordingRule, recordedSeriesNames, ruleGroups } from "./rules.ts";
export { latencyObjectives } from "./service-levels.ts";
