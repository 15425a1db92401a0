// Goal: the Helm chart installs what SREs need and nothing unsafe. helm lint
// --strict passes and helm template renders with default values and with every
// toggle on; every rendered object validates against the Kubernetes, Prometheus
// Operator and CloudNativePG schemas; every Deployment is hardened and probed
// over native gRPC health; every NetworkPolicy admits exactly the callers of
// DESIGN.md §2; values.schema.json rejects typos and stays in sync with
// values.yaml; k8s/ is what the chart renders today.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type TrustmeshServiceName, trustmeshServices } from "@trustmesh/api";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { chartDirectory, everyToggleOn, type KubernetesObject, renderChart } from "../src/chart.ts";
import { cloudNativePgVersions } from "../src/cloudnativepg-crds.ts";
import { staleK8sFiles } from "../src/render-k8s.ts";
import { findHelm, kubernetesVersion } from "../src/tools.ts";
import { validateObjects } from "../src/validate.ts";

const services = ["auth", "payments", "ledger", "credential", "health-processing", "face"];

/**
 * Who may call whom over gRPC, written out here independently of the chart's
 * helper: every service fetches auth's keys; payments moves money on the
 * ledger; auth has credential issue credentials for verified contacts.
 */
const expectedCallers: Record<string, string[]> = {
  auth: ["payments", "ledger", "credential", "health-processing", "face"],
  payments: [],
  ledger: ["payments"],
  credential: ["auth"],
  "health-processing": [],
  face: [],
};

type Json = Record<string, unknown>;
const field = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((current, key) => (current as Json | undefined)?.[key], value);

function helm(args: string[]): { status: number; output: string } {
  try {
    return { status: 0, output: execFileSync(findHelm(), args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
  } catch (error) {
    const failure = error as { status: number; stdout: string; stderr: string };
    return { status: failure.status, output: `${failure.stdout}${failure.stderr}` };
  }
}

const setArguments = (values: Record<string, string>) => Object.entries(values).flatMap(([key, value]) => ["--set", `${key}=${value}`]);

describe("Helm chart", function () {
  this.timeout(120_000);
  let defaults: KubernetesObject[];
  let everything: KubernetesObject[];

  before(() => {
    defaults = renderChart();
    everything = renderChart({ set: everyToggleOn });
  });

  const ofKind = (objects: KubernetesObject[], kind: string) => objects.filter((object) => object.kind === kind);
  const component = (object: KubernetesObject) => object.metadata.labels?.["app.kubernetes.io/component"];

  it("passes helm lint --strict with default values and with every toggle on", () => {
    for (const values of [{}, everyToggleOn]) {
      const result = helm(["lint", "--strict", chartDirectory, "--kube-version", kubernetesVersion, ...setArguments(values)]);
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it("renders the six services with default values, and the operators' resources only when enabled", () => {
    assert.deepEqual(ofKind(defaults, "Deployment").map(component).sort(), [...services].sort());
    assert.equal(ofKind(defaults, "Service").length, 6);
    assert.equal(ofKind(defaults, "ServiceAccount").length, 6);
    assert.equal(ofKind(defaults, "PodDisruptionBudget").length, 6);
    for (const kind of [
      "HorizontalPodAutoscaler",
      "NetworkPolicy",
      "Cluster",
      "Database",
      "ServiceMonitor",
      "PrometheusRule",
      "ConfigMap",
      "Ingress",
    ]) {
      assert.equal(ofKind(defaults, kind).length, 0, `${kind} is off by default`);
    }
    const counts = Object.fromEntries(
      ["HorizontalPodAutoscaler", "NetworkPolicy", "Cluster", "Database", "ServiceMonitor", "PrometheusRule", "ConfigMap", "Ingress"].map(
        (kind) => [kind, ofKind(everything, kind).length],
      ),
    );
    assert.deepEqual(counts, {
      HorizontalPodAutoscaler: 6,
      NetworkPolicy: 6,
      Cluster: 1,
      Database: 6,
      ServiceMonitor: 1,
      PrometheusRule: 1,
      ConfigMap: 7,
      Ingress: 1,
    });
  });

  it("validates every rendered object against the Kubernetes and operators' schemas", async () => {
    assert.deepEqual(await validateObjects(defaults), []);
    assert.deepEqual(await validateObjects(everything), []);
  });

  it("the validation catches a broken object (so a pass means something)", async () => {
    const broken = structuredClone(everything);
    const deployment = ofKind(broken, "Deployment")[0] as Json;
    (field(deployment, "spec") as Json).replicas = "two";
    const cluster = ofKind(broken, "Cluster")[0] as Json;
    (field(cluster, "spec") as Json).instancez = 3;
    const monitor = ofKind(broken, "ServiceMonitor")[0] as Json;
    ((field(monitor, "spec", "endpoints") as Json[])[0] as Json).honorLabels = "yes";
    const database = ofKind(broken, "Database")[0] as Json;
    (field(database, "spec") as Json).ensure = "maybe";
    const problems = await validateObjects([deployment, cluster, monitor, database] as unknown as KubernetesObject[]);
    // CloudNativePG's objects are checked against each pinned operator version's CRD.
    assert.equal(problems.length, 2 + 2 * cloudNativePgVersions.length, problems.join("\n"));
    assert.match(
      problems.join("\n"),
      /Cluster\/trustmesh-postgres \(CloudNativePG v1\.25\.0\): \/spec must NOT have additional properties instancez/,
    );
    assert.match(problems.join("\n"), /Database\/.* \/spec\/ensure must be equal to one of the allowed values/);
  });

  it("validates CloudNativePG objects against the operator's own CRDs, fields the chart does not write included", async () => {
    const cluster = structuredClone(ofKind(everything, "Cluster")[0]) as Json;
    (field(cluster, "spec") as Json).postgresql = { parameters: { max_connections: "200" } };
    (field(cluster, "spec") as Json).backup = { retentionPolicy: "30d" };
    assert.deepEqual(await validateObjects([cluster as unknown as KubernetesObject]), []);
    (field(cluster, "spec", "postgresql") as Json).parameters = { max_connections: 200 };
    assert.equal((await validateObjects([cluster as unknown as KubernetesObject])).length, cloudNativePgVersions.length);
  });

  it("hardens every pod: non-root, no privilege escalation, no capabilities, read-only root, RuntimeDefault seccomp", () => {
    const pods = [
      ...ofKind(everything, "Deployment").map((object) => field(object, "spec", "template", "spec") as Json),
      ...ofKind(everything, "Job").map((object) => field(object, "spec", "template", "spec") as Json),
      ...ofKind(everything, "Pod").map((object) => field(object, "spec") as Json),
    ];
    assert.ok(pods.length >= 13);
    for (const pod of pods) {
      assert.equal(field(pod, "securityContext", "runAsNonRoot"), true);
      assert.equal(field(pod, "securityContext", "seccompProfile", "type"), "RuntimeDefault");
      assert.equal(pod.automountServiceAccountToken, false);
      for (const container of pod.containers as Json[]) {
        const context = container.securityContext as Json;
        assert.equal(context.allowPrivilegeEscalation, false, `${container.name}`);
        assert.equal(context.readOnlyRootFilesystem, true);
        assert.equal(context.privileged, false);
        assert.equal(context.runAsNonRoot, true);
        assert.deepEqual(field(context, "capabilities", "drop"), ["ALL"]);
        assert.ok(field(container, "resources", "limits", "memory"), `${container.name} has a memory limit`);
      }
    }
  });

  it('probes every service with native gRPC health: startup and readiness on the server, liveness on "liveness"', () => {
    for (const deployment of ofKind(everything, "Deployment")) {
      const container = (field(deployment, "spec", "template", "spec", "containers") as Json[])[0] as Json;
      assert.deepEqual(container.args, ["serve", component(deployment)]);
      assert.deepEqual(field(container, "startupProbe", "grpc"), { port: 50051, service: "" });
      assert.deepEqual(field(container, "readinessProbe", "grpc"), { port: 50051, service: "" });
      assert.deepEqual(field(container, "livenessProbe", "grpc"), { port: 50051, service: "liveness" });
      const ports = (container.ports as Json[]).map((port) => `${port.name}:${port.containerPort}`);
      assert.deepEqual(ports, ["grpc:50051", "http:8080", "admin:9090"]);
      const env = Object.fromEntries((container.env as Json[]).map((variable) => [variable.name, variable.value ?? "(secret)"]));
      assert.equal(env.GRPC_PORT, "50051");
      assert.equal(env.AUTH_GRPC_URL, "http://trustmesh-auth.trustmesh.svc:50051");
      assert.equal(
        env.DATABASE_URL,
        `postgresql://trustmesh_${String(component(deployment)).replace("-", "_")}:$(DATABASE_PASSWORD)@trustmesh-postgres-rw.trustmesh.svc:5432/trustmesh_${String(component(deployment)).replace("-", "_")}`,
      );
      assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, everyToggleOn["otel.endpoint"]);
      // With autoscaling on, the HPA owns the replica count.
      assert.equal(field(deployment, "spec", "replicas"), undefined);
    }
  });

  it("names the Service ports, with gRPC marked as h2c", () => {
    for (const service of ofKind(defaults, "Service")) {
      const ports = field(service, "spec", "ports") as Json[];
      assert.deepEqual(
        ports.map((port) => [port.name, port.port, port.appProtocol]),
        [
          ["grpc", 50051, "kubernetes.io/h2c"],
          ["http", 8080, "http"],
          ["admin", 9090, "http"],
        ],
      );
    }
  });

  it("routes each service's Protobuf path on the ingress host to its Connect port, and no other port", () => {
    /** The ingress's routes as "path -> service:port", and its TLS hosts. */
    const routesOf = (objects: KubernetesObject[]) => {
      const ingresses = ofKind(objects, "Ingress");
      assert.equal(ingresses.length, 1, "one Ingress");
      const rules = field(ingresses[0], "spec", "rules") as Json[];
      assert.deepEqual(
        rules.map((rule) => rule.host),
        ["api.example.com"],
      );
      const paths = field(rules[0], "http", "paths") as Json[];
      return paths.map((route) => {
        assert.equal(route.pathType, "Prefix");
        return `${route.path} -> ${field(route, "backend", "service", "name")}:${field(route, "backend", "service", "port", "name")}`;
      });
    };
    // Connect and gRPC-Web requests start with the service's full Protobuf name, as the contracts spell it.
    const routeTo = (name: string) => `/${trustmeshServices[name as TrustmeshServiceName].typeName} -> trustmesh-${name}:http`;
    assert.deepEqual(routesOf(everything), services.map(routeTo));
    assert.equal(field(ofKind(everything, "Ingress")[0], "spec", "ingressClassName"), "nginx");
    assert.deepEqual(field(ofKind(everything, "Ingress")[0], "spec", "tls"), [
      { hosts: ["api.example.com"], secretName: "api-example-com-tls" },
    ]);
    // A disabled service is not routed; ingress.services narrows the set.
    const withoutFace = renderChart({ set: { ...everyToggleOn, "services.face.enabled": "false" } });
    assert.deepEqual(routesOf(withoutFace), services.filter((name) => name !== "face").map(routeTo));
    const onlyPayments = renderChart({ set: { ...everyToggleOn, "ingress.services[0]": "payments" } });
    assert.deepEqual(routesOf(onlyPayments), [routeTo("payments")]);
    // Mistakes stop the install, naming the value.
    const base = ["template", "t", chartDirectory, "--kube-version", kubernetesVersion, "--set", "ingress.enabled=true"];
    const noHost = helm(base);
    assert.notEqual(noHost.status, 0);
    assert.match(noHost.output, /ingress\.host is required/);
    const disabled = helm([
      ...base,
      ...setArguments({ "ingress.host": "api.example.com", "services.face.enabled": "false", "ingress.services[0]": "face" }),
    ]);
    assert.notEqual(disabled.status, 0);
    assert.match(disabled.output, /ingress\.services names face, which is not enabled/);
  });

  it("lets only DESIGN.md's callers reach each gRPC port, Prometheus each admin port, and ingress each Connect port", () => {
    for (const policy of ofKind(everything, "NetworkPolicy")) {
      const name = String(component(policy));
      const rules = field(policy, "spec", "ingress") as Json[];
      const rulePort = (rule: Json) => ((rule.ports as Json[])[0] as Json).port;
      const grpcRule = rules.find((rule) => rulePort(rule) === "grpc") as Json;
      const callers = (grpcRule.from as Json[]).map((peer) => field(peer, "podSelector", "matchLabels", "app.kubernetes.io/component"));
      assert.deepEqual(callers, [...(expectedCallers[name] as string[]), "health-test"], `callers of ${name}`);
      for (const peer of grpcRule.from as Json[])
        assert.equal(field(peer, "namespaceSelector"), undefined, "callers only from this namespace");
      const adminRule = rules.find((rule) => rulePort(rule) === "admin") as Json;
      assert.deepEqual(adminRule.from, [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
          podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
        },
      ]);
      const httpRule = rules.find((rule) => rulePort(rule) === "http") as Json;
      assert.deepEqual(field(httpRule, "from"), [
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
      ]);
      assert.equal(rules.length, 3, "no other way in");
      // Egress: DNS, the services it calls, its database, Redis, the collector.
      const egress = field(policy, "spec", "egress") as Json[];
      const callees = Object.entries(expectedCallers)
        .filter(([, callers]) => callers.includes(name))
        .map(([callee]) => callee);
      const grpcEgress = egress.find((rule) => ((rule.ports as Json[])[0] as Json).port === 50051);
      assert.deepEqual(
        ((grpcEgress?.to as Json[] | undefined) ?? []).map((peer) =>
          field(peer, "podSelector", "matchLabels", "app.kubernetes.io/component"),
        ),
        callees,
        `services ${name} may call`,
      );
      assert.ok(egress.some((rule) => field(rule, "to", "0", "podSelector", "matchLabels", "cnpg.io/cluster") === "trustmesh-postgres"));
    }
  });

  it("runs each service's migrations with the same image as a hook before install and upgrade", () => {
    for (const [values, hook] of [
      [{}, "pre-install,pre-upgrade"],
      [everyToggleOn, "post-install,pre-upgrade"],
    ] as const) {
      const jobs = ofKind(renderChart({ set: values }), "Job");
      assert.equal(jobs.length, 6);
      for (const job of jobs) {
        assert.equal(job.metadata.annotations?.["helm.sh/hook"], hook);
        const container = (field(job, "spec", "template", "spec", "containers") as Json[])[0] as Json;
        assert.equal(container.image, "ghcr.io/trustmesh/trustmesh:0.1.0");
        assert.deepEqual(container.args, ["migrate", job.metadata.labels?.["trustmesh.io/service"]]);
        assert.ok((container.env as Json[]).some((variable) => variable.name === "DATABASE_URL"));
      }
    }
  });

  it("lets one service's image be pinned on its own, for its Deployment and its migration Job", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const objects = renderChart({ set: { "image.tag": "1.0.0", "services.ledger.image.digest": digest } });
    const imageOf = (object: KubernetesObject) => (field(object, "spec", "template", "spec", "containers") as Json[])[0]?.image;
    for (const object of [...ofKind(objects, "Deployment"), ...ofKind(objects, "Job")]) {
      const service = component(object) === "migrate" ? object.metadata.labels?.["trustmesh.io/service"] : component(object);
      const expected = service === "ledger" ? `ghcr.io/trustmesh/trustmesh@${digest}` : "ghcr.io/trustmesh/trustmesh:1.0.0";
      assert.equal(imageOf(object), expected, `${object.kind}/${object.metadata.name}`);
    }
  });

  it("has a helm test pod that checks every service's gRPC health", () => {
    const pod = ofKind(defaults, "Pod")[0] as KubernetesObject;
    assert.equal(pod.metadata.annotations?.["helm.sh/hook"], "test");
    const commands = (field(pod, "spec", "containers") as Json[]).map((container) => String((container.args as string[])[0]));
    assert.equal(commands.length, 6);
    for (const [index, name] of services.entries()) {
      assert.match(commands[index] as string, new RegExp(`trustmesh-${name}\\.trustmesh\\.svc:50051 grpc\\.health\\.v1\\.Health/Check`));
      assert.match(commands[index] as string, /grep -q '"status": "SERVING"'/);
    }
  });

  it("scrapes admin ports with the labels the rules expect, and ships rules and dashboards", () => {
    const monitor = ofKind(everything, "ServiceMonitor")[0] as KubernetesObject;
    assert.equal(field(monitor, "spec", "jobLabel"), "app.kubernetes.io/part-of");
    const endpoint = (field(monitor, "spec", "endpoints") as Json[])[0] as Json;
    assert.equal(endpoint.port, "admin");
    assert.equal(endpoint.honorLabels, true);
    const rule = ofKind(everything, "PrometheusRule")[0] as KubernetesObject;
    const alerts = (field(rule, "spec", "groups") as Json[]).flatMap((group) => (group.rules as Json[]).filter((entry) => entry.alert));
    assert.ok(alerts.length > 10);
    for (const alert of alerts) assert.ok(String(field(alert, "annotations", "runbook_url")).startsWith("https://"));
    for (const map of ofKind(everything, "ConfigMap")) {
      assert.equal(map.metadata.labels?.grafana_dashboard, "1");
      const [json] = Object.values(field(map, "data") as Record<string, string>);
      assert.ok((JSON.parse(json as string) as Json).panels);
    }
  });

  it("generates secrets unless existingSecret names one", () => {
    assert.equal(ofKind(defaults, "Secret").filter((secret) => secret.metadata.name === "trustmesh-secrets").length, 1);
    const withExisting = renderChart({ set: { "secrets.existingSecret": "mine" } });
    assert.equal(ofKind(withExisting, "Secret").length, 0);
    const auth = ofKind(withExisting, "Deployment").find((deployment) => component(deployment) === "auth");
    const container = (field(auth, "spec", "template", "spec", "containers") as Json[])[0] as Json;
    const ring = (container.env as Json[]).find((variable) => variable.name === "AUTH_KEK_RING");
    assert.equal(field(ring, "valueFrom", "secretKeyRef", "name"), "mine");
    // credential has a ring of its own, from the same Secret, and no other service sees either.
    const credential = ofKind(withExisting, "Deployment").find((deployment) => component(deployment) === "credential");
    const credentialEnv = ((field(credential, "spec", "template", "spec", "containers") as Json[])[0] as Json).env as Json[];
    const credentialRing = credentialEnv.find((variable) => variable.name === "CREDENTIAL_KEK_RING");
    assert.equal(field(credentialRing, "valueFrom", "secretKeyRef", "name"), "mine");
    assert.equal(field(credentialRing, "valueFrom", "secretKeyRef", "key"), "credential-kek-ring");
    assert.ok(!credentialEnv.some((variable) => variable.name === "AUTH_KEK_RING"));
    const generated = ofKind(defaults, "Secret").find((secret) => secret.metadata.name === "trustmesh-secrets");
    assert.deepEqual(Object.keys(field(generated, "data") as Json).sort(), [
      "auth-kek-active-id",
      "auth-kek-ring",
      "credential-kek-active-id",
      "credential-kek-ring",
      "face-kek-active-id",
      "face-kek-ring",
      "health-processing-kek-active-id",
      "health-processing-kek-ring",
      "payments-kek-active-id",
      "payments-kek-ring",
    ]);
  });

  it("gives every service that seals data at rest its own key ring, and no other service one", () => {
    const sealing: Record<string, string> = {
      auth: "AUTH",
      payments: "PAYMENTS",
      credential: "CREDENTIAL",
      "health-processing": "HEALTH",
      face: "FACE",
    };
    const secret = ofKind(defaults, "Secret").find((candidate) => candidate.metadata.name === "trustmesh-secrets");
    const data = field(secret, "data") as Record<string, string>;
    const rings = Object.keys(sealing).map((service) => Buffer.from(data[`${service}-kek-ring`] ?? "", "base64").toString());
    for (const ring of rings) assert.match(ring, /^k1:[A-Za-z0-9+/]{43}=$/);
    assert.equal(new Set(rings).size, rings.length, "each service has a different key");
    for (const deployment of ofKind(defaults, "Deployment")) {
      const container = (field(deployment, "spec", "template", "spec", "containers") as Json[])[0] as Json;
      const keyVariables = (container.env as Json[]).filter((variable) => String(variable.name).endsWith("_KEK_RING"));
      const prefix = sealing[String(component(deployment))];
      if (!prefix) {
        assert.deepEqual(keyVariables, [], `${component(deployment)} gets no key ring`);
        continue;
      }
      assert.equal(keyVariables.length, 1);
      assert.equal(keyVariables[0]?.name, `${prefix}_KEK_RING`);
      assert.equal(field(keyVariables[0], "valueFrom", "secretKeyRef", "key"), `${component(deployment)}-kek-ring`);
    }
  });

  describe("values.schema.json", () => {
    const schema = JSON.parse(readFileSync(join(chartDirectory, "values.schema.json"), "utf8")) as Json;
    const values = parse(readFileSync(join(chartDirectory, "values.yaml"), "utf8")) as Json;

    it("accepts values.yaml", () => {
      const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
      assert.ok(validate(values), JSON.stringify(validate.errors));
    });

    it("describes every key of values.yaml, so the two stay in sync", () => {
      /** The schema that applies at a key, following $ref, properties, patternProperties and additionalProperties. */
      const resolve = (node: Json | undefined): Json | undefined => {
        if (node?.$ref) return resolve(field(schema, ...String(node.$ref).slice(2).split("/")) as Json);
        return node;
      };
      const childSchema = (node: Json, key: string): Json | undefined => {
        const properties = node.properties as Json | undefined;
        if (properties && key in properties) return resolve(properties[key] as Json);
        for (const [pattern, child] of Object.entries((node.patternProperties as Json | undefined) ?? {})) {
          if (new RegExp(pattern).test(key)) return resolve(child as Json);
        }
        if (typeof node.additionalProperties === "object") return resolve(node.additionalProperties as Json);
        return undefined;
      };
      const missing: string[] = [];
      const walk = (value: unknown, node: Json, path: string) => {
        if (value === null || typeof value !== "object" || Array.isArray(value)) return;
        // A Kubernetes object passed through as it is (affinity, selectors): free-form by design.
        if (node.properties === undefined && node.patternProperties === undefined && node.additionalProperties === undefined) return;
        for (const [key, child] of Object.entries(value)) {
          const next = childSchema(node, key);
          if (!next) missing.push(`${path}${key}`);
          else walk(child, next, `${path}${key}.`);
        }
      };
      walk(values, schema, "");
      assert.deepEqual(missing, []);
    });

    it("rejects a typo in a value, naming it", () => {
      const result = helm(["template", "t", chartDirectory, "--kube-version", kubernetesVersion, "--set", "default.replicaz=3"]);
      assert.notEqual(result.status, 0);
      assert.match(result.output, /additional properties 'replicaz' not allowed/);
      const badMode = helm(["template", "t", chartDirectory, "--kube-version", kubernetesVersion, "--set", "database.mode=mysql"]);
      assert.notEqual(badMode.status, 0);
      assert.match(badMode.output, /database\/mode|database.mode/);
    });
  });

  it("k8s/ holds what the chart renders today (run node deploy/src/render-k8s.ts after changing the chart)", () => {
    assert.deepEqual(staleK8sFiles(), []);
  });
});
