// Validates rendered objects offline against the schemas of the API they are
// for: Kubernetes' own kinds with `kubernetes-models` (the OpenAPI schemas of
// Kubernetes 1.27, compiled to validators), the Prometheus Operator's kinds with
// `@kubernetes-models/prometheus-operator` (its CRD schemas), and CloudNativePG's
// with the operator's own CRDs (cloudnativepg-crds.ts), for every pinned version.
import { Ajv, type ValidateFunction } from "ajv";
import type { KubernetesObject } from "./chart.ts";
import { cloudNativePgSchemas, cloudNativePgVersions } from "./cloudnativepg-crds.ts";

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** Formats the CRDs name; their values are not checked (the chart writes none of these fields). */
const ignoredFormats = ["int32", "int64", "date-time", "byte", "quantity", "duration"];
let cloudNativePgValidators: Map<string, ValidateFunction> | undefined;

/** One validator per operator version and kind, keyed "<version> <kind>"; compiled once, on first use. */
function cloudNativePgValidatorsByKind(): Map<string, ValidateFunction> {
  if (cloudNativePgValidators) return cloudNativePgValidators;
  const ajv = new Ajv({ allErrors: true, strict: false });
  for (const format of ignoredFormats) ajv.addFormat(format, true);
  cloudNativePgValidators = new Map();
  for (const version of cloudNativePgVersions) {
    for (const [kind, schema] of Object.entries(cloudNativePgSchemas(version))) {
      cloudNativePgValidators.set(`${version} ${kind}`, ajv.compile(schema));
    }
  }
  return cloudNativePgValidators;
}

function validateCloudNativePg(object: KubernetesObject, where: string): string[] {
  const validators = cloudNativePgValidatorsByKind();
  const problems: string[] = [];
  for (const version of cloudNativePgVersions) {
    const validator = validators.get(`${version} ${object.kind}`);
    if (!validator) return [`${where}: no CloudNativePG schema for kind ${object.kind}`];
    if (!validator(object)) {
      for (const error of validator.errors ?? []) {
        problems.push(
          `${where} (CloudNativePG ${version}): ${error.instancePath} ${error.message}${error.params.additionalProperty ? ` ${error.params.additionalProperty}` : ""}`,
        );
      }
    }
  }
  return problems;
}

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
  if (object.apiVersion === "postgresql.cnpg.io/v1") return validateCloudNativePg(object, where);
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
