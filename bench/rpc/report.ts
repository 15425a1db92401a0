// Turns measurements into the printed table and the dated section appended to
// results.md, with the machine and command beside the numbers.
import type { MachineInfo } from "./machine-info.ts";
import type { Measurement } from "./measure.ts";
import type { Scenario, ScenarioId } from "./scenarios.ts";

/** DESIGN.md §3: share of bare grpc-js echo throughput each runtime path must keep. */
export const targetShares: Partial<Record<ScenarioId, number>> = {
  "runtime-grpc": 0.7,
  "runtime-grpc-auth": 0.5,
};

export interface ScenarioSummary {
  scenario: Scenario;
  rounds: Measurement[];
  medianRequestsPerSecond: number;
  /** Against bare grpc-js's median, when bare grpc-js was measured. */
  shareOfBare: number | undefined;
  /** For runtime rows: against bare grpc-js run with the services' V8 flags, when that was measured. */
  shareOfFlaggedBare: number | undefined;
  target: number | undefined;
  met: boolean | undefined;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function summarise(scenarios: Scenario[], measurements: Measurement[]): ScenarioSummary[] {
  const medians = new Map(
    scenarios.map((scenario) => [
      scenario.id,
      median(
        measurements
          .filter((measurement) => measurement.scenario.id === scenario.id)
          .map((measurement) => measurement.load.requestsPerSecond),
      ),
    ]),
  );
  const bare = medians.get("bare-grpc");
  const flaggedBare = medians.get("bare-grpc-v8-flags");
  return scenarios.map((scenario) => {
    const medianRequestsPerSecond = medians.get(scenario.id) as number;
    const shareOfBare = bare === undefined || scenario.id === "bare-grpc" ? undefined : medianRequestsPerSecond / bare;
    const shareOfFlaggedBare =
      flaggedBare === undefined || scenario.server !== "runtime" ? undefined : medianRequestsPerSecond / flaggedBare;
    const target = targetShares[scenario.id];
    return {
      scenario,
      rounds: measurements.filter((measurement) => measurement.scenario.id === scenario.id),
      medianRequestsPerSecond,
      shareOfBare,
      shareOfFlaggedBare,
      target,
      met: target === undefined || shareOfBare === undefined ? undefined : shareOfBare >= target,
    };
  });
}

const integer = (value: number) => Math.round(value).toLocaleString("en-US");
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

function rows(summaries: ScenarioSummary[]): string[][] {
  return summaries.map((summary, index) => [
    String(index + 1),
    summary.scenario.title,
    integer(summary.medianRequestsPerSecond),
    summary.rounds.map((round) => integer(round.load.requestsPerSecond)).join(" / "),
    median(summary.rounds.map((round) => round.load.meanLatencyMs)).toFixed(2),
    percent(median(summary.rounds.map((round) => round.serverCpuShare))),
    percent(median(summary.rounds.map((round) => round.load.loadCpuShare))),
    median(summary.rounds.map((round) => round.serverCpuMicrosPerRequest)).toFixed(1),
    percent(Math.max(...summary.rounds.map((round) => round.otherCpuShare))),
    summary.shareOfBare === undefined ? "—" : percent(summary.shareOfBare),
    summary.shareOfFlaggedBare === undefined ? "—" : percent(summary.shareOfFlaggedBare),
    summary.target === undefined ? "—" : `≥ ${percent(summary.target)}`,
    summary.met === undefined ? "—" : summary.met ? "yes" : "**no**",
  ]);
}

const headings = [
  "#",
  "Scenario",
  "req/s (median)",
  "req/s per round",
  "mean latency ms",
  "server CPU",
  "h2load CPU",
  "server CPU µs/req",
  "other CPU (max)",
  "of bare",
  "of bare with the services' V8 flags",
  "target",
  "met",
];

export function formatConsoleTable(summaries: ScenarioSummary[]): string {
  const table = [headings, ...rows(summaries).map((row) => row.map((cell) => cell.replaceAll("**", "")))];
  const widths = headings.map((_, column) => Math.max(...table.map((row) => (row[column] as string).length)));
  return table.map((row) => row.map((cell, column) => cell.padEnd(widths[column] as number)).join("  ")).join("\n");
}

export interface RunDescription {
  startedAt: Date;
  command: string;
  machine: MachineInfo;
  serverCpu: number | undefined;
  loadCpu: number | undefined;
  clients: number;
  streams: number;
  warmUpSeconds: number;
  durationSeconds: number;
  roundCount: number;
}

export function formatResultsSection(run: RunDescription, summaries: ScenarioSummary[], profiles: string[]): string {
  const { machine } = run;
  const pinning =
    run.serverCpu === undefined
      ? "not pinned (taskset or a second CPU missing)"
      : `server on CPU ${run.serverCpu}, h2load on CPU ${run.loadCpu}`;
  const table = [headings, headings.map((_, column) => (column >= 2 ? "---:" : "---")), ...rows(summaries)]
    .map((row) => `| ${row.join(" | ")} |`)
    .join("\n");
  const lines = [
    `## ${run.startedAt.toISOString().replace("T", " ").slice(0, 16)} UTC`,
    "",
    `- Command: \`${run.command}\``,
    `- Machine: ${machine.cpuModel}, ${machine.cpuCount} CPUs, ${machine.kernel}`,
    `- Software: Node ${machine.nodeVersion}, ${machine.h2loadVersion}, @grpc/grpc-js ${machine.grpcJsVersion}; commit ${machine.commit}, measured sources ${machine.sourceFingerprint}`,
    `- Method: each server in its own process, ${pinning}; gRPC ${run.clients} connections × ${run.streams} streams, ` +
      `Connect ${run.clients * run.streams} HTTP/1.1 connections with one request in flight each; ` +
      `${run.warmUpSeconds} s warm-up, then ${run.durationSeconds} s measured; ${run.roundCount} round(s) taken in turn, median shown; ` +
      "every measured run checked against the server's own count of OK answers.",
    "",
    table,
    "",
  ];
  if (profiles.length > 0) lines.push("### CPU profiles of the measured run (server process)", "", ...profiles);
  return lines.join("\n");
}
