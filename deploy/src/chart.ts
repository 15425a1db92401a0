// Renders the Helm chart with `helm template` and parses the result into
// objects, for the tests and for the k8s/ manifests.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { findHelm, kubernetesVersion } from "./tools.ts";

export const repositoryRoot = join(import.meta.dirname, "..", "..");
export const chartDirectory = join(repositoryRoot, "deploy", "helm", "trustmesh");

export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface RenderOptions {
  releaseName?: string;
  namespace?: string;
  /** `--set` pairs. */
  set?: Record<string, string>;
  /** Values files. */
  valuesFiles?: string[];
  /** Leave out Helm hooks (the migration Jobs and the test pod). */
  noHooks?: boolean;
}

export function helmArguments(options: RenderOptions): string[] {
  const args = [
    "template",
    options.releaseName ?? "trustmesh",
    chartDirectory,
    "--namespace",
    options.namespace ?? "trustmesh",
    "--kube-version",
    kubernetesVersion,
  ];
  for (const file of options.valuesFiles ?? []) args.push("--values", file);
  for (const [key, value] of Object.entries(options.set ?? {})) args.push("--set", `${key}=${value}`);
  if (options.noHooks) args.push("--no-hooks");
  return args;
}

export function renderChartText(options: RenderOptions = {}): string {
  return execFileSync(findHelm(), helmArguments(options), { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

export function parseObjects(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`rendered YAML does not parse: ${document.errors[0]?.message}`);
      return document.toJS() as KubernetesObject | null;
    })
    .filter((object): object is KubernetesObject => object !== null);
}

export function renderChart(options: RenderOptions = {}): KubernetesObject[] {
  return parseObjects(renderChartText(options));
}

/** Every toggle on: operators, autoscaling, network policies with egress, monitoring, dashboards, tracing, public addresses, the ingress. */
export const everyToggleOn: Record<string, string> = {
  "database.mode": "cloudnativepg",
  "default.autoscaling.enabled": "true",
  "networkPolicy.enabled": "true",
  "networkPolicy.egress.enabled": "true",
  "serviceMonitor.enabled": "true",
  "prometheusRule.enabled": "true",
  "dashboards.enabled": "true",
  "redis.url": "redis://redis.trustmesh.svc:6379",
  "otel.endpoint": "http://otel-collector.observability.svc:4318",
  "corsAllowedOrigins[0]": "https://console.example.com",
  "ingress.enabled": "true",
  "ingress.host": "api.example.com",
  "ingress.className": "nginx",
  "ingress.tls.secretName": "api-example-com-tls",
  // The public addresses production needs (README: Public addresses).
  "passkeys.relyingPartyId": "example.com",
  "passkeys.origins[0]": "https://console.example.com",
  "credentialIssuer.url": "https://id.example.com",
};
