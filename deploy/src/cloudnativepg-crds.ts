// CloudNativePG's own CRD schemas, read from the operator's Go module at pinned
// versions: the Go module proxy serves github.com/cloudnative-pg/cloudnative-pg
// at a named version (it refuses only the list of versions), and the module
// holds config/crd/bases/, the CRDs the operator installs. `go mod download`
// puts it in Go's module cache (scripts/bootstrap.sh does it ahead; here it is
// a no-op then), so nothing of the CRDs is copied into this repository.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

export const cloudNativePgModule = "github.com/cloudnative-pg/cloudnative-pg";
/**
 * The oldest operator the chart supports (1.25 brought the Database resource,
 * chart README) and a newer one: the rendered objects must be valid for both.
 */
export const cloudNativePgVersions = ["v1.25.0", "v1.27.1"] as const;
/** The kinds the chart renders, with the CRD file of each. */
const crdFiles: Record<string, string> = {
  Cluster: "postgresql.cnpg.io_clusters.yaml",
  Database: "postgresql.cnpg.io_databases.yaml",
};

type Schema = Record<string, unknown>;

interface CustomResourceDefinition {
  spec: { names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
}

function moduleDirectory(version: string): string {
  // Outside the repository, so no go.mod is consulted; the module cache answers without the network once filled.
  const answer = execFileSync("go", ["mod", "download", "-json", `${cloudNativePgModule}@${version}`], {
    encoding: "utf8",
    cwd: tmpdir(),
    timeout: 300_000,
  });
  const { Dir: directory, Error: error } = JSON.parse(answer) as { Dir?: string; Error?: string };
  if (!directory) throw new Error(`go mod download ${cloudNativePgModule}@${version}: ${error ?? "no directory"}`);
  return directory;
}

/**
 * The API server prunes unknown fields, but `kubectl apply` validates strictly
 * (--validate=strict, the default since Kubernetes 1.27) and refuses them, as
 * kubeconform -strict does: so every object schema that lists its properties,
 * and does not keep unknown fields on purpose, refuses others here too.
 */
function strict(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== "object") return node;
  const schema = Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, key === "properties" ? strictProperties(value) : strict(value)]),
  );
  if (schema.properties && schema.additionalProperties === undefined && schema["x-kubernetes-preserve-unknown-fields"] !== true) {
    schema.additionalProperties = false;
  }
  return schema;
}

function strictProperties(properties: unknown): unknown {
  return Object.fromEntries(Object.entries(properties as Record<string, unknown>).map(([name, value]) => [name, strict(value)]));
}

/** The JSON Schema of each kind the chart renders, for one operator version, as strict as kubectl. */
export function cloudNativePgSchemas(version: string): Record<string, Schema> {
  const directory = moduleDirectory(version);
  const schemas: Record<string, Schema> = {};
  for (const [kind, file] of Object.entries(crdFiles)) {
    const crd = parse(readFileSync(join(directory, "config", "crd", "bases", file), "utf8")) as CustomResourceDefinition;
    const served = crd.spec.versions.find((candidate) => candidate.name === "v1");
    if (crd.spec.names.kind !== kind || !served) throw new Error(`${file} of ${cloudNativePgModule}@${version} has no ${kind} v1`);
    schemas[kind] = strict(served.schema.openAPIV3Schema) as Schema;
  }
  return schemas;
}
