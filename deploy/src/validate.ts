// Validates rendered objects offline against the schemas of the API they are
// for: Kubernetes' own kinds with `kubernetes-models` (the OpenAPI schemas of
// Kubernetes 1.27, compiled to validators), the Prometheus Operator's kinds with
// `@kubernetes-models/prometheus-operator` (its CRD schemas), and
// CloudNativePG's with deploy/schemas/cloudnativepg.schema.json.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import type { KubernetesObject } from "./chart.ts";

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

const cloudNativePgSchema = JSON.parse(readFileSync(join(import.meta.dirname, "..", "schemas", "cloudnativepg.schema.json"), "utf8"));
const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema(cloudNativePgSchema, "cloudnativepg");

/** The module that holds a kind's model, by apiVersion. */
function modelModule(object: KubernetesObject): string | undefined {
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}/${object.kind}`;
  if (group === "") return `kubernetes-models/${version}/${object.kind}`;
  if (group?.includes(".") && !group.endsWith(".k8s.io")) return undefined;
  return `kubernetes-models/${group}/${version}/${object.kind}`;
}

/** Problems of one object, empty when it is valid; an object of an unknown kind is a problem too. */
export async function validateObject(object: KubernetesObject): Promise<string[]> {
  const where = `${object.kind}/${object.metadata?.name}`;
  if (object.apiVersion === "postgresql.cnpg.io/v1") {
    const validator = ajv.getSchema(`cloudnativepg#/definitions/${object.kind}`);
    if (!validator) return [`${where}: no CloudNativePG schema for kind ${object.kind}`];
    return validator(object) ? [] : (validator.errors ?? []).map((error) => `${where}: ${error.instancePath} ${error.message}`);
  }
  const module = modelModule(object);
  if (!module) return [`${where}: no schema known for apiVersion ${object.apiVersion}`];
  let models: Record<string, ModelClass>;
  try {
    models = (await import(module)) as Record<string, ModelClass>;
  } catch {
    return [`${where}: no schema known for ${object.apiVersion} ${object.kind}`];
  }
  const Model = models[object.kind];
  if (!Model) return [`${where}: no model ${object.kind} in ${module}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${where}: ${error instanceof Error ? error.message : String(error)}`];
  }
}

export async function validateObjects(objects: readonly KubernetesObject[]): Promise<string[]> {
  return (await Promise.all(objects.map(validateObject))).flat();
}
