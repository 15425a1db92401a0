// Goal: the OpenTelemetry Collector config SREs deploy works in a real
// collector (trustmesh-otelcol, built from otel-collector/builder.yaml by
// scripts/bootstrap.sh). `validate` accepts it and refuses a broken copy. Run
// with it, the collector takes the OTLP spans a real service (auth, on real
// Postgres and Redis) exports after a real RPC, forwards them to an OTLP
// backend (the testkit's OTLP receiver) with the environment the resource
// processor adds, and its Prometheus endpoint exports span metrics (calls and
// duration) for that RPC.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService } from "@trustmesh/api";
import { findCollector } from "@trustmesh/deploy/tools";
import {
  findFreePort,
  type OtlpReceiver,
  type PostgresServer,
  type RedisServer,
  type RunningServices,
  startOtlpReceiver,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";
import { repositoryRoot } from "../src/index.ts";

const configPath = join(repositoryRoot, "observability", "otel-collector", "config.yaml");
/** The variables config.yaml reads, as a Deployment of the collector would set them. */
const collectorEnvironment = (tracesEndpoint: string) => ({
  ...process.env,
  DEPLOYMENT_ENVIRONMENT: "collector-test",
  TRACES_OTLP_ENDPOINT: tracesEndpoint,
});

function validate(path: string): { status: number | null; output: string } {
  const result = spawnSync(findCollector(), ["validate", `--config=${path}`], {
    encoding: "utf8",
    env: collectorEnvironment("http://127.0.0.1:4318"),
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("OpenTelemetry Collector config in a real collector", function () {
  this.timeout(300_000);
  const workDirectory = mkdtempSync(join(tmpdir(), "trustmesh-otelcol-"));

  after(() => rmSync(workDirectory, { recursive: true, force: true }));

  it("passes the collector's validate, which refuses a broken copy", () => {
    const valid = validate(configPath);
    assert.equal(valid.status, 0, valid.output);
    // A component the pipelines name but nobody defines: the check is real.
    const brokenPath = join(workDirectory, "broken.yaml");
    writeFileSync(
      brokenPath,
      readFileSync(configPath, "utf8").replace("exporters: [otlp_http/traces, spanmetrics]", "exporters: [otlp_http/tempo, spanmetrics]"),
    );
    const broken = validate(brokenPath);
    assert.notEqual(broken.status, 0);
    assert.match(broken.output, /otlp_http\/tempo/);
  });

  describe("run with a real service sending spans", () => {
    let postgres: PostgresServer;
    let redis: RedisServer;
    let backend: OtlpReceiver;
    let platform: RunningServices;
    let collector: ChildProcess | undefined;
    let collectorLog = "";
    let metricsUrl: string;

    async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
      const giveUpAt = Date.now() + timeoutMs;
      while (!(await condition())) {
        if (Date.now() > giveUpAt) throw new Error(`${what} within ${timeoutMs} ms; the collector said:\n${collectorLog.slice(-4000)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }

    before(async () => {
      [postgres, redis, backend] = await Promise.all([startPostgres(), startRedis(), startOtlpReceiver()]);
      const [healthPort, grpcPort, httpPort, metricsPort] = await Promise.all([
        findFreePort(),
        findFreePort(),
        findFreePort(),
        findFreePort(),
      ]);
      metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
      // The deployed config unchanged but for: loopback ports of our own (so
      // parallel runs do not collide), JSON towards the test backend (the
      // testkit receiver reads JSON; production sends protobuf), span metrics
      // flushed every second instead of 15, and no internal-telemetry port.
      const overrides = [
        `extensions::health_check::endpoint=127.0.0.1:${healthPort}`,
        `receivers::otlp::protocols::grpc::endpoint=127.0.0.1:${grpcPort}`,
        `receivers::otlp::protocols::http::endpoint=127.0.0.1:${httpPort}`,
        `exporters::prometheus::endpoint=127.0.0.1:${metricsPort}`,
        "exporters::otlp_http/traces::encoding=json",
        "connectors::spanmetrics::metrics_flush_interval=1s",
        "service::telemetry::metrics::level=none",
      ];
      collector = spawn(findCollector(), [`--config=${configPath}`, ...overrides.map((override) => `--set=${override}`)], {
        env: collectorEnvironment(backend.endpoint),
        stdio: ["ignore", "pipe", "pipe"],
      });
      collector.stdout?.on("data", (chunk) => (collectorLog += chunk));
      collector.stderr?.on("data", (chunk) => (collectorLog += chunk));
      await waitUntil(
        "the collector healthy",
        async () => (await fetch(`http://127.0.0.1:${healthPort}/`).catch(() => undefined))?.ok === true,
      );

      platform = await startServices({
        names: ["auth"],
        databaseUrlFor: (name) => postgres.createDatabase(`trustmesh_${name}`),
        redisUrl: redis.url,
        // What the chart sets with otel.endpoint: OTLP over HTTP with protobuf, to the collector.
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${httpPort}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
          OTEL_BSP_SCHEDULE_DELAY: "100",
        },
      });
    });

    after(async () => {
      await platform?.stop();
      if (collector && collector.exitCode === null) {
        const exited = new Promise((resolve) => collector?.once("exit", resolve));
        collector.kill("SIGTERM");
        await exited;
      }
      await Promise.all([backend?.close(), redis?.stop(), postgres?.stop()]);
    });

    it("forwards a real RPC's server span to the OTLP backend and derives span metrics from it", async () => {
      const auth = createClient(
        AuthService,
        createConnectTransport({ baseUrl: platform.services.auth?.httpUrl as string, httpVersion: "1.1" }),
      );
      for (let call = 0; call < 3; call++) await auth.getJwks({});

      const isGetJwksServerSpan = (span: { serviceName: string; kind: number; name: string }) =>
        span.serviceName === "auth" && span.kind === 2 && span.name.endsWith("GetJwks");
      const spans = await backend.waitFor((received) => received.filter(isGetJwksServerSpan).length >= 3, 30_000);
      const server = spans.find(isGetJwksServerSpan);
      assert.ok(server);
      // The collector's resource processor stamped the environment on the way through.
      assert.equal(server.resourceAttributes["deployment.environment.name"], "collector-test");

      // The names SREs' dashboards use for span metrics (Grafana's and Tempo's documentation).
      const seriesOf = (metrics: string, name: string) =>
        metrics.split("\n").filter((line) => line.startsWith(`${name}{`) && line.includes(`span_name="${server.name}"`));
      let metrics = "";
      await waitUntil("span metrics for GetJwks", async () => {
        metrics = (await (await fetch(metricsUrl).catch(() => undefined))?.text()) ?? "";
        return seriesOf(metrics, "traces_span_metrics_calls_total").length > 0;
      });
      const [calls] = seriesOf(metrics, "traces_span_metrics_calls_total") as [string];
      assert.match(calls, /service_name="auth"/);
      assert.match(calls, /span_kind="SPAN_KIND_SERVER"/);
      // The dimensions config.yaml adds, from the runtime's RPC span attributes.
      assert.match(calls, /rpc_service="trustmesh.auth.v1.AuthService"/);
      assert.match(calls, /rpc_method="GetJwks"/);
      assert.match(calls, /rpc_grpc_status_code="0"/);
      assert.ok(Number(calls.split(" ").at(-1)) >= 3, calls);
      assert.ok(seriesOf(metrics, "traces_span_metrics_duration_milliseconds_bucket").length > 1, "a duration histogram for the span");
    });
  });
});
