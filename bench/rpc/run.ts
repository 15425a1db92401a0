// bench/rpc: bare @grpc/grpc-js echo against the runtime's gRPC port
// (unauthenticated and authenticated) and its Connect HTTP/1.1 port, in one
// run on one machine, and whether DESIGN.md §3's targets hold.
//
//   node bench/rpc/run.ts [--duration-seconds 10] [--warm-up-seconds 5] [--rounds 3]
//                         [--only bare-grpc,runtime-grpc] [--cpu-prof] [--no-write]
//
// See bench/README.md for what each number means.
import { accessSync, appendFileSync, constants, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createTestKey, signToken, startJwksServer } from "../../packages/runtime/test/support/tokens.ts";
import { h2loadPath } from "./h2load.ts";
import { machineInfo } from "./machine-info.ts";
import { type Measurement, measureUndisturbed } from "./measure.ts";
import { formatProfileSummary, summariseProfile } from "./profile-summary.ts";
import { formatConsoleTable, formatResultsSection, summarise } from "./report.ts";
import { pinnedCpus, positiveInteger, requireNode24, resultsHeader } from "./run-options.ts";
import { benchUserId, createScenarios } from "./scenarios.ts";
import { sourceFingerprint } from "./source-fingerprint.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const resultsPath = path.join(here, "results.md");

const { values: options } = parseArgs({
  allowNegative: true,
  options: {
    "duration-seconds": { type: "string", default: "10" },
    "warm-up-seconds": { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    clients: { type: "string", default: "16" },
    streams: { type: "string", default: "16" },
    only: { type: "string" },
    "cpu-prof": { type: "boolean", default: false },
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
const clients = positiveInteger("clients", options.clients, 1024);
const streams = positiveInteger("streams", options.streams, 1024);

requireNode24();
accessSync(h2loadPath, constants.X_OK);
const { serverCpu, loadCpu } = pinnedCpus();

const workDirectory = mkdtempSync(path.join(os.tmpdir(), "trustmesh-bench-rpc-"));
const key = await createTestKey("bench-key");
const jwks = await startJwksServer([key]);
// Valid for far longer than any run, so no token expires mid-measurement.
const token = await signToken(key, { subject: benchUserId, kind: "user", expiresInSeconds: 24 * 3600 });

const allScenarios = createScenarios(workDirectory, token);
const only = options.only?.split(",").map((id) => id.trim());
const unknown = only?.filter((id) => !allScenarios.some((scenario) => scenario.id === id));
if (unknown?.length)
  throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${allScenarios.map((scenario) => scenario.id).join(", ")}`);
const scenarios = only ? allScenarios.filter((scenario) => only.includes(scenario.id)) : allScenarios;

const startedAt = new Date();
const source = { repoRoot, fingerprint: sourceFingerprint(repoRoot) };
const command = ["node", path.relative(process.cwd(), fileURLToPath(import.meta.url)), ...process.argv.slice(2)].join(" ");
const measureOptions = { source, workDirectory, jwksUrl: jwks.url, serverCpu, loadCpu, clients, streams, warmUpSeconds, durationSeconds };
console.log(
  `bench/rpc: ${scenarios.length} scenario(s) × ${roundCount} round(s), ${warmUpSeconds} s warm-up + ${durationSeconds} s each; logs in ${workDirectory}`,
);

const measurements: Measurement[] = [];
const profiles: string[] = [];
try {
  // Rounds go through every scenario in turn, so drift in the machine's speed
  // touches all of them alike instead of one.
  for (let round = 1; round <= roundCount; round++) {
    for (const scenario of scenarios) {
      const measurement = await measureUndisturbed(scenario, { ...measureOptions, label: `round-${round}` }, retriesWhenDisturbed);
      measurements.push(measurement);
      console.log(
        `  round ${round} ${scenario.id.padEnd(20)} ${Math.round(measurement.load.requestsPerSecond).toString().padStart(7)} req/s, ` +
          `server CPU ${(measurement.serverCpuShare * 100).toFixed(0)}%, h2load CPU ${(measurement.load.loadCpuShare * 100).toFixed(0)}%, other CPU ${(measurement.otherCpuShare * 100).toFixed(0)}%, ${measurement.serverOkCount} OK by the server's count`,
      );
    }
  }
  if (options["cpu-prof"]) {
    // Profiled runs are separate: the sampler slows the server, so their
    // throughput is not a result.
    for (const scenario of scenarios) {
      const profilePath = path.join(workDirectory, `${scenario.id}.cpuprofile`);
      const measurement = await measureUndisturbed(scenario, { ...measureOptions, label: "profile", profilePath }, retriesWhenDisturbed);
      console.log(`  profiled ${scenario.id}: ${Math.round(measurement.load.requestsPerSecond)} req/s under the profiler; ${profilePath}`);
      profiles.push(formatProfileSummary(`${scenario.title} — ${path.basename(profilePath)}`, summariseProfile(profilePath)));
    }
  }
} finally {
  await jwks.close();
}

const summaries = summarise(scenarios, measurements);
console.log(`\n${formatConsoleTable(summaries)}\n`);
for (const profile of profiles) console.log(profile);
if (options.write) {
  const section = formatResultsSection(
    {
      startedAt,
      command,
      machine: machineInfo(repoRoot, source.fingerprint),
      serverCpu,
      loadCpu,
      clients,
      streams,
      warmUpSeconds,
      durationSeconds,
      roundCount,
    },
    summaries,
    profiles,
  );
  if (!existsSync(resultsPath)) writeFileSync(resultsPath, resultsHeader);
  appendFileSync(resultsPath, `${section}\n`);
  console.log(`appended to ${path.relative(process.cwd(), resultsPath)}`);
}
const missed = summaries.filter((summary) => summary.met === false);
if (missed.length > 0) {
  console.log(
    `target missed: ${missed.map((summary) => `${summary.scenario.id} at ${((summary.shareOfBare ?? 0) * 100).toFixed(1)}% of bare`).join(", ")}`,
  );
}
