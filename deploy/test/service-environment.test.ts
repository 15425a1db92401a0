// Goal: the chart gives every service every variable its own config schema
// needs, read from the schema itself (services/<name>/src/config.ts with the
// runtime's base variables), so a variable added to a service cannot be
// forgotten by the chart. With default values and with every toggle on, each
// Deployment provides every variable without a default (from a plain value, a
// Secret or a ConfigMap); with every toggle on it also provides every variable
// marked setInProduction (a default fit only for a machine of one's own). Every
// value the render shows passes the service's own schema, and a key read from a
// Secret the chart renders exists in it. Each migration Job gets DATABASE_URL.
// The Secret of service clients the chart reads (service-clients-secret.ts)
// holds what auth and payments accept, and auth verifies payments' secret.
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { baseConfigShape, setInProduction } from "@trustmesh/runtime";
import { everyToggleOn, type KubernetesObject, renderChart, repositoryRoot } from "../src/chart.ts";
import { serviceClientsSecret } from "../src/service-clients-secret.ts";
import { validateObjects } from "../src/validate.ts";

const services = ["auth", "payments", "ledger", "credential", "health-processing", "face"];

/** The part of a zod schema the checks use. */
interface VariableSchema {
  safeParse(value: unknown): { success: boolean; error?: { issues: { message: string }[] } };
  meta(): Record<string, unknown> | undefined;
}
type ConfigShape = Record<string, VariableSchema>;

async function configShapeOf(service: string): Promise<ConfigShape> {
  const url = pathToFileURL(join(repositoryRoot, "services", service, "src", "config.ts")).href;
  const shapes = Object.entries((await import(url)) as Record<string, unknown>).filter(([name]) => name.endsWith("ConfigShape"));
  assert.equal(shapes.length, 1, `services/${service}/src/config.ts exports one *ConfigShape`);
  return { ...(baseConfigShape as unknown as ConfigShape), ...(shapes[0]?.[1] as ConfigShape) };
}

const isRequired = (schema: VariableSchema) => !schema.safeParse(undefined).success;
const isSetInProduction = (schema: VariableSchema) => schema.meta()?.production === setInProduction.production;
const namesWhere = (shape: ConfigShape, test: (schema: VariableSchema) => boolean) =>
  Object.entries(shape)
    .filter(([, schema]) => test(schema))
    .map(([name]) => name);

interface Reference {
  name: string;
  key: string;
}
interface EnvironmentVariable {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: Reference; configMapKeyRef?: Reference; fieldRef?: unknown };
}
interface EnvironmentSource {
  prefix?: string;
  secretRef?: { name: string };
  configMapRef?: { name: string };
}
interface Container {
  name: string;
  env?: EnvironmentVariable[];
  envFrom?: EnvironmentSource[];
}

/** The keys and values of a Secret or ConfigMap the render holds, or undefined when it comes from outside the chart. */
function contentsOf(objects: readonly KubernetesObject[], kind: "Secret" | "ConfigMap", name: string): Record<string, string> | undefined {
  const object = objects.find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
  if (!object) return undefined;
  const encoded = Object.entries((object.data ?? {}) as Record<string, string>).map(([key, value]) => [
    key,
    kind === "Secret" ? Buffer.from(value, "base64").toString("utf8") : value,
  ]);
  return { ...Object.fromEntries(encoded), ...((object.stringData ?? {}) as Record<string, string>) };
}

/**
 * A container's variables as Kubernetes builds them: envFrom first, then env in
 * order, $(NAME) replaced by a variable defined before it. A value is null when
 * only the cluster knows it (a Secret from outside the chart, a field of the pod).
 */
function environmentOf(container: Container, objects: readonly KubernetesObject[], problems: string[]): Map<string, string | null> {
  const variables = new Map<string, string | null>();
  for (const source of container.envFrom ?? []) {
    const contents = source.secretRef
      ? contentsOf(objects, "Secret", source.secretRef.name)
      : source.configMapRef && contentsOf(objects, "ConfigMap", source.configMapRef.name);
    for (const [key, value] of Object.entries(contents ?? {})) variables.set(`${source.prefix ?? ""}${key}`, value);
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) {
      let unknown = false;
      const value = variable.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => {
        const known = variables.get(name);
        if (known === undefined || known === null) unknown = true;
        return known ?? whole;
      });
      variables.set(variable.name, unknown ? null : value);
      continue;
    }
    const secret = variable.valueFrom?.secretKeyRef;
    const configMap = variable.valueFrom?.configMapKeyRef;
    const reference = secret ?? configMap;
    if (!reference) {
      variables.set(variable.name, null);
      continue;
    }
    const kind = secret ? "Secret" : "ConfigMap";
    const contents = contentsOf(objects, kind, reference.name);
    if (contents && !(reference.key in contents)) {
      problems.push(`${container.name}: ${variable.name} reads key ${reference.key} of ${kind} ${reference.name}, which has no such key`);
    }
    variables.set(variable.name, contents?.[reference.key] ?? null);
  }
  return variables;
}

const podContainers = (object: KubernetesObject) =>
  ((object.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers ?? []) as Container[];

/** What is wrong with the environment each Deployment gives its service, empty when nothing is. */
function environmentProblems(
  objects: readonly KubernetesObject[],
  shapes: Record<string, ConfigShape>,
  options: { production: boolean },
): string[] {
  const problems: string[] = [];
  for (const deployment of objects.filter((object) => object.kind === "Deployment")) {
    const service = deployment.metadata.labels?.["app.kubernetes.io/component"] as string;
    const shape = shapes[service];
    if (!shape) {
      problems.push(`Deployment ${deployment.metadata.name}: no config schema for ${service}`);
      continue;
    }
    const [container] = podContainers(deployment);
    const variables = environmentOf(container as Container, objects, problems);
    const needed = namesWhere(shape, (schema) => isRequired(schema) || (options.production && isSetInProduction(schema)));
    for (const name of needed) if (!variables.has(name)) problems.push(`${service}: ${name} is not set`);
    for (const [name, value] of variables) {
      const schema = shape[name];
      if (!schema || value === null) continue;
      const result = schema.safeParse(value);
      if (!result.success) problems.push(`${service}: ${name}=${value}: ${result.error?.issues.map((issue) => issue.message).join("; ")}`);
    }
  }
  return problems;
}

describe("Helm chart and the services' config schemas", function () {
  this.timeout(120_000);
  const shapes: Record<string, ConfigShape> = {};
  let defaults: KubernetesObject[];
  let everything: KubernetesObject[];

  before(async () => {
    for (const service of services) shapes[service] = await configShapeOf(service);
    defaults = renderChart();
    everything = renderChart({ set: everyToggleOn });
  });

  it("reads what each service requires from its schema (the check sees real variables)", () => {
    const required = (service: string) => namesWhere(shapes[service] as ConfigShape, isRequired);
    for (const service of services) {
      for (const name of ["DATABASE_URL", "REDIS_URL", "AUTH_GRPC_URL"]) assert.ok(required(service).includes(name), `${service}: ${name}`);
    }
    assert.ok(required("payments").includes("LEDGER_GRPC_URL"));
    assert.ok(required("payments").includes("PAYMENTS_SERVICE_CLIENT_SECRET"));
    assert.ok(required("face").includes("FACE_KEK_RING"));
    assert.ok(!required("ledger").includes("LEDGER_BATCH_SIZE_MAX"), "a variable with a default is not required");
    assert.deepEqual(namesWhere(shapes.auth as ConfigShape, isSetInProduction).sort(), [
      "AUTH_SERVICE_CLIENTS",
      "AUTH_WEBAUTHN_ORIGINS",
      "AUTH_WEBAUTHN_RP_ID",
    ]);
    assert.deepEqual(namesWhere(shapes.credential as ConfigShape, isSetInProduction), ["CREDENTIAL_ISSUER_URL"]);
  });

  it("gives every service each variable it requires, with valid values, with default values", () => {
    assert.equal(defaults.filter((object) => object.kind === "Deployment").length, services.length);
    assert.deepEqual(environmentProblems(defaults, shapes, { production: false }), []);
  });

  it("gives every service each variable it requires or production needs, with valid values, with every toggle on", () => {
    assert.deepEqual(environmentProblems(everything, shapes, { production: true }), []);
  });

  it("leaves exactly the public addresses unset with default values (NOTES.txt warns)", () => {
    assert.deepEqual(environmentProblems(defaults, shapes, { production: true }).sort(), [
      "auth: AUTH_WEBAUTHN_ORIGINS is not set",
      "auth: AUTH_WEBAUTHN_RP_ID is not set",
      "credential: CREDENTIAL_ISSUER_URL is not set",
    ]);
  });

  it("reports a missing variable, an invalid value and a missing Secret key (so a pass means something)", () => {
    const broken = structuredClone(everything);
    const deploymentOf = (service: string) =>
      broken.find(
        (object) => object.kind === "Deployment" && object.metadata.labels?.["app.kubernetes.io/component"] === service,
      ) as KubernetesObject;
    const [payments] = podContainers(deploymentOf("payments")) as [Container];
    payments.env = payments.env?.filter((variable) => variable.name !== "DATABASE_URL");
    const ledgerUrl = payments.env?.find((variable) => variable.name === "LEDGER_GRPC_URL") as EnvironmentVariable;
    ledgerUrl.value = "ledger:50051";
    const [face] = podContainers(deploymentOf("face")) as [Container];
    const ring = face.env?.find((variable) => variable.name === "FACE_KEK_RING") as EnvironmentVariable;
    (ring.valueFrom?.secretKeyRef as Reference).key = "face-kek-rin";
    const problems = environmentProblems(broken, shapes, { production: true });
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.match(problems.join("\n"), /payments: DATABASE_URL is not set/);
    assert.match(problems.join("\n"), /payments: LEDGER_GRPC_URL=ledger:50051/);
    assert.match(problems.join("\n"), /FACE_KEK_RING reads key face-kek-rin/);
  });

  it("prints a service-clients Secret whose keys auth and payments accept, and whose secret auth verifies", async () => {
    const secret = (await serviceClientsSecret("trustmesh")) as unknown as KubernetesObject;
    assert.deepEqual(await validateObjects([secret]), []);
    const deployments = everything.filter((object) => object.kind === "Deployment");
    const problems = environmentProblems([...deployments, secret], shapes, { production: true });
    // Both variables now resolve to the Secret's values, which pass auth's and payments' schemas.
    assert.deepEqual(problems, []);
    const data = secret.stringData as Record<string, string>;
    const authModule = pathToFileURL(join(repositoryRoot, "services", "auth", "src", "service-clients.ts")).href;
    const { serviceClientsSchema, verifyClientSecret } = (await import(authModule)) as {
      serviceClientsSchema: VariableSchema & { parse(value: unknown): unknown };
      verifyClientSecret(clients: unknown, clientId: string, secret: string): Promise<boolean>;
    };
    const clients = serviceClientsSchema.parse(JSON.parse(data["auth-service-clients"] as string));
    assert.equal(await verifyClientSecret(clients, "payments", data["payments-client-secret"] as string), true);
    assert.equal(await verifyClientSecret(clients, "payments", "not-the-secret"), false);
  });

  it("gives each migration Job its service's DATABASE_URL", () => {
    for (const objects of [defaults, everything]) {
      const jobs = objects.filter((object) => object.kind === "Job");
      assert.equal(jobs.length, services.length);
      for (const job of jobs) {
        const problems: string[] = [];
        const [container] = podContainers(job) as [Container];
        const variables = environmentOf(container, objects, problems);
        assert.deepEqual(problems, []);
        assert.ok(variables.has("DATABASE_URL"), `${job.metadata.name} has DATABASE_URL`);
      }
    }
  });
});
