// bench/rpc ablation: what each interceptor of the production stack costs on
// the gRPC port. Serves Echo through the runtime's grpc-js adapter with the
// first 0, 1, ... 7 interceptors and measures each variant like run.ts does,
// so the difference between neighbours is one interceptor's price. A tool for
// finding what to optimise; run.ts holds the numbers the targets are judged on.
//
//   node bench/rpc/ablation.ts [--duration-seconds 10] [--warm-up-seconds 5] [--rounds 1] [--no-write]
import { appendFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createTestKey, startJwksServer } from "../../packages/runtime/test/support/tokens.ts";
import { stackOrder } from "./ablation-variants.ts";
import { machineInfo } from "./machine-info.ts";
import { type Measurement, measureUndisturbed } from "./measure.ts";
import { pinnedCpus, positiveInteger, requireNode24, resultsHeader } from "./run-options.ts";
import { createScenarios } from "./scenarios.ts";
import { sourceFingerprint } from "./source-fingerprint.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsPath = path.join(here, "results.md");

const { values: options } = parseArgs({
  allowNegative: true,
  options: {
    "duration-seconds": { type: "string", default: "10" },
    "warm-up-seconds": { type: "string", default: "5" },
    rounds: { type: "string", default: "1" },
    write: { type: "boolean", default: true },
    "retries-when-disturbed": { type: "string", default: "2" },
  },
});
const durationSeconds = positiveInteger("duration-seconds", options["duration-seconds"], 600);
const warmUpSeconds = positiveInteger("warm-up-seconds", options["warm-up-seconds"], 600);
const roundCount = positiveInteger("rounds", options.rounds, 20);
const retriesWhenDisturbed = Number(options["retries-when-disturbed"]);
if (!Number.isInteger(retriesWhenDisturbed) || retriesWhenDisturbed < 0 || retriesWhenDisturbed > 10) {
  throw new Error("--retries-when-disturbed must be an integer from 0 to 10");
}
const clients = 16;
const streams = 16;
requireNode24();
const { serverCpu, loadCpu } = pinnedCpus();

const workDirectory = mkdtempSync(path.join(os.tmpdir(), "trustmesh-bench-ablation-"));
const jwks = await startJwksServer([await createTestKey("bench-key")]);
// Unauthenticated Echo: EchoAuthenticated would fail in the variants without the auth interceptor.
const scenario = createScenarios(workDirectory, "unused").find((candidate) => candidate.id === "runtime-grpc");
if (!scenario) throw new Error("runtime-grpc scenario missing");
const startedAt = new Date();
const repoRoot = path.resolve(here, "../..");
const source = { repoRoot, fingerprint: sourceFingerprint(repoRoot) };
const command = ["node", path.relative(process.cwd(), fileURLToPath(import.meta.url)), ...process.argv.slice(2)].join(" ");
console.log(`bench/rpc ablation: ${stackOrder.length + 1} variants × ${roundCount} round(s); logs in ${workDirectory}`);

const byVariant: Measurement[][] = Array.from({ length: stackOrder.length + 1 }, () => []);
try {
  for (let round = 1; round <= roundCount; round++) {
    for (let count = 0; count <= stackOrder.length; count++) {
      const measurement = await measureUndisturbed(
        scenario,
        {
          source,
          workDirectory,
          jwksUrl: jwks.url,
          serverCpu,
          loadCpu,
          clients,
          streams,
          warmUpSeconds,
          durationSeconds,
          label: `round-${round}-interceptors-${count}`,
          serverOverride: {
            entryPath: path.join(here, "ablation-server.ts"),
            env: { BENCH_INTERCEPTOR_COUNT: String(count), BENCH_STACK_LENGTH: String(stackOrder.length) },
            runtime: true,
          },
        },
        retriesWhenDisturbed,
      );
      byVariant[count]?.push(measurement);
      console.log(
        `  round ${round} +${(stackOrder[count - 1] ?? "adapter only").padEnd(14)} ${Math.round(measurement.load.requestsPerSecond).toString().padStart(7)} req/s, ` +
          `${measurement.serverCpuMicrosPerRequest.toFixed(1)} µs server CPU per call`,
      );
    }
  }
} finally {
  await jwks.close();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const rows = byVariant.map((measurements, count) => ({
  variant: count === 0 ? "grpc-js adapter, no interceptors" : `+ ${stackOrder[count - 1]}`,
  requestsPerSecond: median(measurements.map((measurement) => measurement.load.requestsPerSecond)),
  cpuMicros: median(measurements.map((measurement) => measurement.serverCpuMicrosPerRequest)),
  // Shown so a reader can tell an interceptor's price from round-to-round noise.
  cpuMicrosPerRound: measurements.map((measurement) => measurement.serverCpuMicrosPerRequest.toFixed(1)).join(" / "),
}));
const table = [
  "| Variant (cumulative, stack order) | req/s (median) | server CPU µs/call (median) | per round | added µs/call |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (row, index) =>
      `| ${row.variant} | ${Math.round(row.requestsPerSecond).toLocaleString("en-US")} | ${row.cpuMicros.toFixed(1)} | ${row.cpuMicrosPerRound} | ${
        index === 0 ? "—" : (row.cpuMicros - (rows[index - 1]?.cpuMicros ?? 0)).toFixed(1)
      } |`,
  ),
].join("\n");
console.log(`\n${table}\n`);
if (options.write) {
  const machine = machineInfo(repoRoot, source.fingerprint);
  const section = [
    `## ${startedAt.toISOString().replace("T", " ").slice(0, 16)} UTC — interceptor ablation`,
    "",
    `- Command: \`${command}\``,
    `- Machine: ${machine.cpuModel}, ${machine.cpuCount} CPUs, ${machine.kernel}`,
    `- Software: Node ${machine.nodeVersion}, ${machine.h2loadVersion}, @grpc/grpc-js ${machine.grpcJsVersion}; commit ${machine.commit}, measured sources ${machine.sourceFingerprint}`,
    `- Method: Echo through packages/runtime/src/server/grpc-server.ts with the first N interceptors (OpenTelemetry SDK started in every variant), ` +
      `server ${serverCpu === undefined ? "unpinned" : `on CPU ${serverCpu}, h2load on CPU ${loadCpu}`}, ${clients}×${streams}, ` +
      `${warmUpSeconds} s warm-up + ${durationSeconds} s measured, ${roundCount} round(s), median.`,
    "",
    table,
    "",
  ].join("\n");
  if (!existsSync(resultsPath)) writeFileSync(resultsPath, resultsHeader);
  appendFileSync(resultsPath, `${section}\n`);
  console.log(`appended to ${path.relative(process.cwd(), resultsPath)}`);
}
