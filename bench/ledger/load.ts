// Load against the real ledger over gRPC: closed loops (N callers, each sending
// its next call when the previous one answered) to find throughput, and an
// open loop (calls sent at a fixed rate whatever the answers do) to measure
// latency at a chosen load, free of coordinated omission.
import { randomUUID } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { LedgerService } from "@trustmesh/api";
import { releaseClosedHttp2Streams } from "@trustmesh/runtime";
import { grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import { applyServiceV8Flags } from "../../packages/runtime/src/v8-flags.ts";

// The load generator shares the machine with what it measures, and its own GC
// pauses count as the ledger's latency: finished calls should die young here
// as in the services (packages/runtime/src/server/release-closed-streams.ts).
// This alone left most of those pauses (services/ledger/README.md, "Session 7").
// The generator also runs with the services' V8 flags (pretenuring off), which
// is what let a grpc-js process's finished calls die young (README, "Benchmarks").
releaseClosedHttp2Streams();
applyServiceV8Flags();

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
  /** When each of those calls was due (performance.now()), in the same order. */
  sentAtMs: Float64Array;
  /** CPU the load generator itself used, in cores. */
  clientCpuCores: number;
  /**
   * The load generator's own longest event-loop stall in the window, in
   * milliseconds (its GC pauses among them). A call due during a stall is sent
   * late and counted from when it was due, so a p99 near this figure is the
   * instrument's, not the ledger's.
   */
  clientStallMaxMs: number;
  /** CPU the measured processes used during the window, in milliseconds (see CpuSampler). */
  serverCpuMs: Record<string, number>;
}

/** Reads cumulative CPU milliseconds of the processes under measurement, by name. */
export type CpuSampler = () => Record<string, number>;

export interface Workload {
  /** Transfers one call commits (1 for PostTransaction, the batch size for PostTransactions). */
  transfersPerCall: number;
  /** Sends one call; resolves with how many transfers it committed. */
  send(client: grpc.Client): Promise<number>;
}

/** Transfers of one minor unit between random distinct wallets, which never run dry. */
export function transferWorkload(wallets: readonly string[], token: string, batchSize: number | undefined): Workload {
  const metadata = { authorization: `Bearer ${token}` };
  const newTransaction = () => {
    const debit = wallets[Math.floor(Math.random() * wallets.length)] as string;
    let credit = debit;
    while (credit === debit) credit = wallets[Math.floor(Math.random() * wallets.length)] as string;
    return {
      idempotencyKey: `bench:${randomUUID()}`,
      postings: [{ debitAccountId: debit, creditAccountId: credit, amount: { currency: "USD", amountMinor: "1" } }],
    };
  };
  const call = <I extends DescMessage, O extends DescMessage>(
    client: grpc.Client,
    method: DescMethod & { input: I; output: O },
    request: MessageInitShape<I>,
  ) => grpcJsUnary(client, method, request, { metadata, timeoutMs: 30_000 }) as Promise<MessageShape<O>>;
  if (batchSize === undefined) {
    return {
      transfersPerCall: 1,
      async send(client) {
        await call(client, LedgerService.method.postTransaction, { transaction: newTransaction() });
        return 1;
      },
    };
  }
  return {
    transfersPerCall: batchSize,
    async send(client) {
      const response = await call(client, LedgerService.method.postTransactions, {
        transactions: Array.from({ length: batchSize }, newTransaction),
      });
      const committed = response.results.filter((result) => result.outcome.case === "transaction").length;
      if (committed !== batchSize) throw new Error(`${batchSize - committed} of ${batchSize} batch items were rejected`);
      return committed;
    },
  };
}

function cpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** Records results only between the end of warm-up and the end of the measured window. */
function createWindow(warmUpSeconds: number, durationSeconds: number, sampleCpu: CpuSampler) {
  const startedAt = performance.now();
  const measureFrom = startedAt + warmUpSeconds * 1000;
  const measureUntil = measureFrom + durationSeconds * 1000;
  const latencies: number[] = [];
  const sentAts: number[] = [];
  let calls = 0;
  let transfers = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  let cpuAtStart: number | undefined;
  let serversAtStart: Record<string, number> | undefined;
  let serversAtEnd: Record<string, number> | undefined;
  // 1 ms resolution: finer than any stall that matters to a p99 in milliseconds.
  const stalls = monitorEventLoopDelay({ resolution: 1 });
  return {
    measureUntil,
    done() {
      const over = performance.now() >= measureUntil;
      if (over && serversAtEnd === undefined) {
        serversAtEnd = sampleCpu();
        stalls.disable();
      }
      return over;
    },
    startCpuWhenMeasuring() {
      if (cpuAtStart === undefined && performance.now() >= measureFrom) {
        cpuAtStart = cpuSeconds();
        serversAtStart = sampleCpu();
        stalls.enable();
      }
    },
    record(sentAt: number, committed: number) {
      const now = performance.now();
      if (sentAt < measureFrom || now > measureUntil) return;
      calls++;
      transfers += committed;
      latencies.push(now - sentAt);
      sentAts.push(sentAt);
    },
    fail(sentAt: number, error: unknown) {
      if (sentAt < measureFrom) return;
      failures++;
      firstFailure ??= error instanceof Error ? error.message : String(error);
    },
    result(): LoadResult {
      const cpu = cpuSeconds() - (cpuAtStart ?? cpuSeconds());
      return {
        calls,
        transfers,
        failures,
        firstFailure,
        durationSeconds,
        latenciesMs: Float64Array.from(latencies),
        sentAtMs: Float64Array.from(sentAts),
        clientCpuCores: cpu / durationSeconds,
        // The histogram is in nanoseconds and counts the 1 ms resolution itself as delay.
        clientStallMaxMs: stalls.count === 0 ? 0 : stalls.max / 1e6,
        serverCpuMs: Object.fromEntries(
          Object.entries(serversAtEnd ?? {}).map(([name, end]) => [name, end - (serversAtStart?.[name] ?? end)]),
        ),
      };
    },
  };
}

/** `concurrency` callers spread over the clients, each calling again as soon as it is answered. */
export async function closedLoop(
  clients: readonly grpc.Client[],
  workload: Workload,
  options: { concurrency: number; warmUpSeconds: number; durationSeconds: number; sampleCpu: CpuSampler },
): Promise<LoadResult> {
  const window = createWindow(options.warmUpSeconds, options.durationSeconds, options.sampleCpu);
  const caller = async (index: number) => {
    const client = clients[index % clients.length] as grpc.Client;
    while (!window.done()) {
      window.startCpuWhenMeasuring();
      const sentAt = performance.now();
      try {
        window.record(sentAt, await workload.send(client));
      } catch (error) {
        window.fail(sentAt, error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, index) => caller(index)));
  return window.result();
}

/**
 * Calls at `ratePerSecond`, evenly spaced, whatever the answers do; latency
 * counts from the moment a call was due, so a stall shows in the tail instead
 * of quietly lowering the rate. At most `inFlightMax` calls wait at once.
 */
export async function openLoop(
  clients: readonly grpc.Client[],
  workload: Workload,
  options: { ratePerSecond: number; warmUpSeconds: number; durationSeconds: number; inFlightMax: number; sampleCpu: CpuSampler },
): Promise<LoadResult> {
  const window = createWindow(options.warmUpSeconds, options.durationSeconds, options.sampleCpu);
  const startedAt = performance.now();
  const intervalMs = 1000 / options.ratePerSecond;
  let sent = 0;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  while (!window.done()) {
    window.startCpuWhenMeasuring();
    const now = performance.now();
    while (sent * intervalMs <= now - startedAt && inFlight < options.inFlightMax) {
      const dueAt = startedAt + sent * intervalMs;
      const client = clients[sent % clients.length] as grpc.Client;
      sent++;
      inFlight++;
      const call: Promise<void> = workload
        .send(client)
        .then(
          (committed) => window.record(dueAt, committed),
          (error: unknown) => window.fail(dueAt, error),
        )
        .finally(() => {
          inFlight--;
          pending.delete(call);
        });
      pending.add(call);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  return window.result();
}

export function percentile(sorted: Float64Array, share: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] as number;
}
