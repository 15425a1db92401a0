// Load against the real ledger over gRPC: closed loops (N callers, each sending
// its next call when the previous one answered) to find throughput, and an
// open loop (calls sent at a fixed rate whatever the answers do) to measure
// latency at a chosen load, free of coordinated omission.
//
// The calls are sent by a Go program (loadgen/main.go, speaking HTTP/2 itself
// in loadgen/h2.go), not from this process: the generator shares the machine
// with what it measures, and the grpc-js generator it replaced cost about
// 190 µs of CPU per call and paused for scavenges of 15 ms, which counted as
// the ledger's latency; grpc-go's client after it cost about 100 µs. Here every
// request is encoded before the run (each with its own idempotency key), so
// the generator only sends bytes and times the answers.
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create, type DescMethod, toBinary } from "@bufbuild/protobuf";
import { LedgerService } from "@trustmesh/api";
import { Health } from "@trustmesh/api/grpc/health/v1/health_pb.js";

export interface LoadResult {
  /** Calls that succeeded during the measured window. */
  calls: number;
  /** Transfers committed by those calls. */
  transfers: number;
  failures: number;
  /** First failure message, for the log. */
  firstFailure: string | undefined;
  durationSeconds: number;
  /** Per-call latencies in milliseconds. */
  latenciesMs: Float64Array;
  /** When each of those calls was due (ms since the generator started), in the same order. */
  sentAtMs: Float64Array;
  /**
   * How late the generator began each of those calls, in milliseconds: from
   * when it was due until the goroutine making it started. Part of the call's
   * latency, and all of it the generator's: its sender sleeps until a call is
   * due and wakes late on a busy machine (services/ledger/README.md, "Session 20").
   */
  sendLateMs: Float64Array;
  /** CPU the load generator itself used, in cores. */
  clientCpuCores: number;
  /**
   * The load generator's own longest stall in the window, in milliseconds: how
   * late a 1 ms sleep woke up. A call due during a stall is sent late and
   * counted from when it was due, so a p99 near this figure is the
   * instrument's, not the ledger's.
   */
  clientStallMaxMs: number;
  /** How much each server counter grew during the window (see WindowSampler): CPU milliseconds, GC pauses. */
  serverGrowth: Record<string, number>;
  /** When the generator said the measured window opened, on the wall clock (epoch ms), to place other events in it. */
  windowOpenedAtMs: number;
}

/**
 * Reads cumulative counters of the processes under measurement, by name: CPU
 * milliseconds from /proc, GC pauses from a /metrics endpoint. It is called as
 * the window opens and as it closes; whatever it reads synchronously is read
 * at that instant, and an asynchronous part (a scrape) starts then.
 */
export type WindowSampler = () => Record<string, number> | Promise<Record<string, number>>;

/** Where the calls go. */
export interface LoadTarget {
  /** host:port of the ledger's gRPC listener. */
  address: string;
  /** A payments service token: only internal services may post. */
  token: string;
  /** HTTP/2 connections the calls are spread over. */
  connections: number;
}

export interface Workload {
  /** Transfers one call commits (1 for PostTransaction, the batch size for PostTransactions). */
  transfersPerCall: number;
  /** Most calls per second a closed loop is given requests for; running out fails the run. */
  callsPerSecondMax: number;
  method: DescMethod;
  /** `count` requests, encoded, each with idempotency keys of its own. */
  encode(count: number): Uint8Array[];
}

/** Transfers of one minor unit between random distinct wallets, which never run dry. */
export function transferWorkload(wallets: readonly string[], batchSize: number | undefined): Workload {
  const newTransaction = () => {
    const debit = wallets[Math.floor(Math.random() * wallets.length)] as string;
    let credit = debit;
    while (credit === debit) credit = wallets[Math.floor(Math.random() * wallets.length)] as string;
    return {
      idempotencyKey: `bench:${randomUUID()}`,
      postings: [{ debitAccountId: debit, creditAccountId: credit, amount: { currency: "USD", amountMinor: "1" } }],
    };
  };
  if (batchSize === undefined) {
    const method = LedgerService.method.postTransaction;
    return {
      transfersPerCall: 1,
      // About 1.5× the best single-transfer rate measured here so far (6,394/s).
      callsPerSecondMax: 10_000,
      method,
      encode: (count) =>
        Array.from({ length: count }, () => toBinary(method.input, create(method.input, { transaction: newTransaction() }))),
    };
  }
  const method = LedgerService.method.postTransactions;
  return {
    transfersPerCall: batchSize,
    // About twice the best batched rate measured here so far (19,625 transfers/s).
    callsPerSecondMax: Math.ceil(40_000 / batchSize),
    method,
    encode: (count) =>
      Array.from({ length: count }, () =>
        toBinary(method.input, create(method.input, { transactions: Array.from({ length: batchSize }, newTransaction) })),
      ),
  };
}

/**
 * grpc.health.v1.Health/Check calls, which do no work of the ledger's own:
 * what the gRPC stack and the runtime cost per call at a given arrival rate.
 */
export function healthCheckWorkload(): Workload {
  const method = Health.method.check;
  return repeatedRequestWorkload(method, toBinary(method.input, create(method.input, {})), 10_000);
}

/** One encoded request sent by every call: for calls whose cost does not depend on what they carry (no keys to spend). */
export function repeatedRequestWorkload(method: DescMethod, request: Uint8Array, callsPerSecondMax: number): Workload {
  return { transfersPerCall: 1, callsPerSecondMax, method, encode: (count) => Array.from({ length: count }, () => request) };
}

const loadgenSource = path.join(path.dirname(fileURLToPath(import.meta.url)), "loadgen");

/** Builds the Go generator into `directory` (under a second with Go's build cache warm), before the row's clock starts. */
function buildLoadGenerator(directory: string): string {
  const output = path.join(directory, "loadgen");
  execFileSync("go", ["build", "-o", output, "."], { cwd: loadgenSource, stdio: ["ignore", "inherit", "inherit"] });
  return output;
}

/** The requests as the generator reads them: each a 4-byte big-endian length, then the message. */
function lengthPrefixed(messages: readonly Uint8Array[]): Buffer {
  const file = Buffer.allocUnsafe(messages.reduce((sum, message) => sum + 4 + message.length, 0));
  let offset = 0;
  for (const message of messages) {
    offset = file.writeUInt32BE(message.length, offset);
    file.set(message, offset);
    offset += message.length;
  }
  return file;
}

/** What loadgen/main.go prints last (its `report`). */
interface GeneratorReport {
  calls: number;
  failures: number;
  firstFailure?: string;
  latenciesMs: number[] | null;
  dueAtMs: number[] | null;
  sendLateMs: number[] | null;
  cpuSeconds: number;
  stallMaxMs: number;
  exhausted: boolean;
}

interface WindowOptions {
  warmUpSeconds: number;
  durationSeconds: number;
  sampleServers: WindowSampler;
}

/** A sample taken now, awaited later: a failure surfaces at the await instead of as an unhandled rejection. */
function sampleNow(sampler: WindowSampler): Promise<Record<string, number>> {
  // The executor runs at once, so the synchronous part is read now; a throw becomes a rejection.
  const sample = new Promise<Record<string, number>>((resolve) => resolve(sampler()));
  sample.catch(() => {});
  return sample;
}

/** Runs the generator over `calls` fresh requests; samples the servers when it says the window opens and closes. */
async function runGenerator(
  target: LoadTarget,
  workload: Workload,
  calls: number,
  loopArguments: string[],
  options: WindowOptions,
): Promise<LoadResult> {
  const directory = mkdtempSync(path.join(os.tmpdir(), "trustmesh-load-"));
  try {
    const binary = buildLoadGenerator(directory);
    const requestsPath = path.join(directory, "requests.bin");
    writeFileSync(requestsPath, lengthPrefixed(workload.encode(calls)));
    const child = spawn(
      binary,
      [
        `-target=${target.address}`,
        `-method=/${workload.method.parent.typeName}/${workload.method.name}`,
        `-requests=${requestsPath}`,
        `-authorization=Bearer ${target.token}`,
        `-connections=${target.connections}`,
        `-warm-up-seconds=${options.warmUpSeconds}`,
        `-duration-seconds=${options.durationSeconds}`,
        ...loopArguments,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    let serversAtStart: Promise<Record<string, number>> | undefined;
    let serversAtEnd: Promise<Record<string, number>> | undefined;
    let windowOpenedAtMs = Number.NaN;
    let report: GeneratorReport | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
      if (line === "measuring") {
        serversAtStart = sampleNow(options.sampleServers);
        windowOpenedAtMs = Date.now();
      } else if (line === "measured") serversAtEnd = sampleNow(options.sampleServers);
      else report = JSON.parse(line) as GeneratorReport;
    }
    const code = await exited;
    if (code !== 0 || report === undefined) throw new Error(`the load generator exited with ${code}`);
    if (report.exhausted) {
      throw new Error(`the load generator used all ${calls} requests it was given: raise the workload's callsPerSecondMax`);
    }
    if (serversAtStart === undefined || serversAtEnd === undefined)
      throw new Error("the load generator never reported its measured window");
    const [atStart, atEnd] = await Promise.all([serversAtStart, serversAtEnd]);
    return {
      calls: report.calls,
      transfers: report.calls * workload.transfersPerCall,
      failures: report.failures,
      firstFailure: report.firstFailure,
      durationSeconds: options.durationSeconds,
      latenciesMs: Float64Array.from(report.latenciesMs ?? []),
      sentAtMs: Float64Array.from(report.dueAtMs ?? []),
      sendLateMs: Float64Array.from(report.sendLateMs ?? []),
      clientCpuCores: report.cpuSeconds / options.durationSeconds,
      clientStallMaxMs: report.stallMaxMs,
      serverGrowth: Object.fromEntries(Object.entries(atEnd).map(([name, end]) => [name, end - (atStart[name] ?? end)])),
      windowOpenedAtMs,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** `concurrency` callers spread over the connections, each calling again as soon as it is answered. */
export function closedLoop(target: LoadTarget, workload: Workload, options: WindowOptions & { concurrency: number }): Promise<LoadResult> {
  const calls = Math.ceil(workload.callsPerSecondMax * (options.warmUpSeconds + options.durationSeconds)) + options.concurrency;
  return runGenerator(target, workload, calls, ["-mode=closed", `-concurrency=${options.concurrency}`], options);
}

/**
 * Calls at `ratePerSecond`, evenly spaced, whatever the answers do; latency
 * counts from the moment a call was due, so a stall shows in the tail instead
 * of quietly lowering the rate. At most `inFlightMax` calls wait at once.
 */
export function openLoop(
  target: LoadTarget,
  workload: Workload,
  options: WindowOptions & { ratePerSecond: number; inFlightMax: number },
): Promise<LoadResult> {
  const calls = Math.ceil(options.ratePerSecond * (options.warmUpSeconds + options.durationSeconds)) + 1;
  return runGenerator(
    target,
    workload,
    calls,
    ["-mode=open", `-rate=${options.ratePerSecond}`, `-in-flight-max=${options.inFlightMax}`],
    options,
  );
}

/** Issue #4: single-transfer p99 under this at half of peak load. */
export const halfPeakP99TargetMs = 25;
/** run.ts's measured window per row, and so the window profile.ts judges that p99 over. */
export const rowWindowSeconds = 8;

/** Latencies ascending, for percentile(); a typed array sorts numerically. */
export function sortedLatencies(latencies: ArrayLike<number>): Float64Array {
  return Float64Array.from(latencies).sort();
}

export function percentile(sorted: Float64Array, share: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] as number;
}
