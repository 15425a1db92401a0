// Summarises a V8 CPU profile (the same sampler as node --cpu-prof) into where
// a server spends its time: self time by library or runtime file, the hottest
// functions by self time, and the cost charged to each runtime function.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface CostLine {
  name: string;
  /** Share of all sampled (non-idle) time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  sampledMs: number;
  byArea: CostLine[];
  topFunctions: CostLine[];
  byRuntimeFunction: CostLine[];
}

const runtimeSourceMarker = "packages/runtime/src/";

/** Where a function lives, coarse enough to say which layer costs what. */
export function areaOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:")) return url.replace(/^node:(internal\/)?/, "node:").replace(/\/.*$/, "");
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  const repo = /\/(packages\/[^/]+\/.*|bench\/.*)$/.exec(url);
  return repo ? (repo[1] as string) : url;
}

const sourceLines = new Map<string, string[]>();

/** The source line a profile frame starts on, so anonymous arrow functions can be recognised. */
function sourceLine(url: string, lineNumber: number): string {
  if (!url.startsWith("file:")) return "";
  let lines = sourceLines.get(url);
  if (!lines) {
    try {
      lines = readFileSync(fileURLToPath(url), "utf8").split("\n");
    } catch {
      lines = [];
    }
    sourceLines.set(url, lines);
  }
  const text = (lines[lineNumber] ?? "").trim();
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
}

function functionLabel(node: ProfileNode, withSource: boolean): string {
  const { functionName, url, lineNumber } = node.callFrame;
  if (url === "") return functionName || "(anonymous)";
  const file = url.includes("node_modules") ? `${areaOf(url, functionName)}/${/[^/]+$/.exec(url)?.[0]}` : areaOf(url, functionName);
  const label = `${file}:${lineNumber + 1} ${functionName || "(anonymous)"}`;
  return withSource ? `${label} — ${sourceLine(url, lineNumber)}` : label;
}

function ranked(costs: Map<string, number>, totalMicros: number, limit: number): CostLine[] {
  return [...costs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, micros]) => ({ name, share: micros / totalMicros }));
}

function add(costs: Map<string, number>, key: string, micros: number): void {
  costs.set(key, (costs.get(key) ?? 0) + micros);
}

export function summariseProfile(path: string, limit = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  const selfByArea = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const byRuntimeFunction = new Map<string, number>();
  let totalMicros = 0;
  profile.samples.forEach((nodeId, index) => {
    const micros = profile.timeDeltas[index] ?? 0;
    const node = byId.get(nodeId);
    if (!node || node.callFrame.functionName === "(idle)") return;
    totalMicros += micros;
    add(selfByArea, areaOf(node.callFrame.url, node.callFrame.functionName), micros);
    add(selfByFunction, functionLabel(node, false), micros);
    // Each sample is charged to the innermost runtime function on its stack:
    // that function's own work plus the library work it called directly. The
    // shares add up, unlike inclusive times of nested interceptors.
    let charged = "(not under packages/runtime/src: transport, GC, event loop)";
    for (let current: number | undefined = nodeId; current !== undefined; current = parentOf.get(current)) {
      const frame = byId.get(current) as ProfileNode;
      if (frame.callFrame.url.includes(runtimeSourceMarker)) {
        charged = functionLabel(frame, true);
        break;
      }
    }
    add(byRuntimeFunction, charged, micros);
  });
  return {
    sampledMs: totalMicros / 1000,
    byArea: ranked(selfByArea, totalMicros, limit),
    topFunctions: ranked(selfByFunction, totalMicros, limit),
    byRuntimeFunction: ranked(byRuntimeFunction, totalMicros, limit),
  };
}

export function formatProfileSummary(title: string, summary: ProfileSummary): string {
  const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
  const table = (heading: string, lines: CostLine[]) =>
    [
      `| ${heading} | share of CPU |`,
      "| --- | ---: |",
      ...lines.map((line) => `| \`${line.name.replaceAll("|", "\\|")}\` | ${percent(line.share)} |`),
    ].join("\n");
  return [
    `#### ${title} (${(summary.sampledMs / 1000).toFixed(1)} s of samples, idle excluded)`,
    "",
    table("Self time by area", summary.byArea),
    "",
    table("Hottest functions (self time)", summary.topFunctions),
    "",
    table("Charged to the innermost packages/runtime/src function on the stack", summary.byRuntimeFunction),
    "",
  ].join("\n");
}
