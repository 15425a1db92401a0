// bench/rpc/open-loop.ts: what one unary call costs a server's process in CPU
// when calls arrive at a fixed rate, as a service's callers send them, rather
// than as fast as the server answers (run.ts keeps h2load's 256 calls in
// flight). Bare @grpc/grpc-js and the runtime serve EchoService/Echo, each in
// a process of its own, unpinned; bench/ledger's Go generator
// (bench/ledger/loadgen, through bench/ledger/load.ts) sends the calls in an
// open loop at each rate, with a bearer token as services' callers do.
//
//   node bench/rpc/open-loop.ts [--rates 300,1000,3000,6000] [--duration-seconds 10] [--warm-up-seconds 3]
//
// Prints, per server and rate: the server process's CPU per call and per
// second, and the latency p50 and p99. The sparser the calls, the dearer each
// (services/ledger/README.md, "Session 21"), which a saturating load cannot
// show. Nothing is written to results.md.
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { EchoService } from "@trustmesh/api/trustmesh/testing/v1/echo_service_pb.js";
import { createTestKey, signToken, startJwksServer } from "../../packages/runtime/test/support/tokens.ts";
import { openLoop, percentile, repeatedRequestWorkload, sortedLatencies } from "../ledger/load.ts";
import { runtimeNodeFlags, runtimeTelemetryEnv, serverEntries } from "./measure.ts";
import { positiveInteger, requireNode24 } from "./run-options.ts";
import { benchUserId } from "./scenarios.ts";
import { startServerProcess } from "./server-process.ts";

const { values: options } = parseArgs({
  options: {
    rates: { type: "string", default: "300,1000,3000,6000" },
    "duration-seconds": { type: "string", default: "10" },
    "warm-up-seconds": { type: "string", default: "3" },
  },
});
requireNode24();
const rates = options.rates.split(",").map((rate) => positiveInteger("rates", rate.trim(), 100_000));
const durationSeconds = positiveInteger("duration-seconds", options["duration-seconds"], 600);
const warmUpSeconds = positiveInteger("warm-up-seconds", options["warm-up-seconds"], 600);

const echo = EchoService.method.echo;
const request = toBinary(echo.input, create(echo.input, { message: "hello, trustmesh" }));
const workload = repeatedRequestWorkload(echo, request, Math.max(...rates));

const key = await createTestKey("bench-key");
const jwks = await startJwksServer([key]);
const token = await signToken(key, { subject: benchUserId, kind: "user", expiresInSeconds: 24 * 3600 });
// The servers' logs, kept only if a run fails.
const logDirectory = mkdtempSync(path.join(os.tmpdir(), "trustmesh-bench-rpc-open-loop-"));
try {
  for (const kind of ["bare", "runtime"] as const) {
    const runtime = kind === "runtime";
    const server = await startServerProcess({
      entryPath: serverEntries[kind],
      nodeFlags: runtime ? [...runtimeNodeFlags] : [],
      cpu: undefined,
      logPath: path.join(logDirectory, `${kind}.log`),
      env: { BENCH_JWKS_URL: jwks.url, ...(runtime ? runtimeTelemetryEnv : {}) },
    });
    try {
      const target = { address: `127.0.0.1:${server.ports.grpcPort}`, token, connections: 8 };
      const serverCpuMs = async () => ({ serverCpuMs: (await server.stats()).cpuMicros / 1000 });
      for (const ratePerSecond of rates) {
        const result = await openLoop(target, workload, {
          ratePerSecond,
          warmUpSeconds,
          durationSeconds,
          inFlightMax: 4096,
          sampleServers: serverCpuMs,
        });
        if (result.failures > 0)
          throw new Error(`${kind} at ${ratePerSecond}/s: ${result.failures} calls failed, first: ${result.firstFailure}`);
        const cpuMs = result.serverGrowth.serverCpuMs ?? Number.NaN;
        const sorted = sortedLatencies(result.latenciesMs);
        console.log(
          `${kind.padEnd(7)} ${String(ratePerSecond).padStart(6)}/s: ${((cpuMs * 1000) / result.calls).toFixed(1).padStart(6)} µs CPU per call, ` +
            `${(cpuMs / result.durationSeconds).toFixed(0).padStart(4)} ms/s; p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p99 ${percentile(sorted, 0.99).toFixed(2)} ms`,
        );
      }
    } finally {
      await server.stop();
    }
  }
  rmSync(logDirectory, { recursive: true, force: true });
} finally {
  await jwks.close();
}
