// bench/auth: password logins and token refreshes per second per core,
// against the real auth process (the same `node src/main.ts` production runs)
// on real PostgreSQL and Redis. Anchors: Keycloak's sizing guide gives about
// 15 password logins/s and 120 refreshes/s per vCPU.
//
// Usage (repository root): node_modules/.bin/node bench/auth/run.ts [--duration-seconds 10] [--warm-up-seconds 3]
//   [--concurrency 16] [--users 64] [--no-write]
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "@trustmesh/api";
import { findFreePort, randomKeyEncryptionKeys, startPostgres, startRedis } from "@trustmesh/testkit";
import { Redis } from "ioredis";
import { serviceNodeArguments } from "../../packages/runtime/src/node-arguments.ts";
import { processCpuMs } from "../ledger/process-cpu.ts";
import { machineBusyCpuMs } from "../rpc/machine-load.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const resultsPath = join(import.meta.dirname, "results.md");
const password = "correct horse battery staple";

const { values: options } = parseArgs({
  options: {
    "duration-seconds": { type: "string", default: "10" },
    "warm-up-seconds": { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    users: { type: "string", default: "64" },
    "no-write": { type: "boolean", default: false },
  },
});
const durationMs = Number(options["duration-seconds"]) * 1000;
const warmUpMs = Number(options["warm-up-seconds"]) * 1000;
const concurrency = Number(options.concurrency);
const userCount = Number(options.users);
if (!process.version.startsWith("v24."))
  throw new Error(`run with the repository's Node 24 (node_modules/.bin/node), not ${process.version}`);

type AuthClient = Client<typeof AuthService>;

async function counterValue(metricsUrl: string, name: string, outcome: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name}{outcome="${outcome}"`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

interface Measurement {
  scenario: string;
  okCount: number;
  wallMs: number;
  serverCpuMs: number;
  otherCpuMs: number;
  serverCounted: number;
}

/** Runs `work` in `concurrency` loops until the deadline; any failure stops the benchmark. */
async function drive(work: (worker: number) => Promise<void>, forMs: number): Promise<number> {
  const deadline = Date.now() + forMs;
  let okCount = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (Date.now() < deadline) {
        await work(worker);
        okCount++;
      }
    }),
  );
  return okCount;
}

async function measure(
  scenario: string,
  pid: number,
  metricsUrl: string,
  counter: [string, string],
  work: (worker: number) => Promise<void>,
): Promise<Measurement> {
  await drive(work, warmUpMs);
  const countedBefore = await counterValue(metricsUrl, ...counter);
  const serverBefore = processCpuMs(pid);
  const machineBefore = machineBusyCpuMs();
  const harnessBefore = process.cpuUsage();
  const startedAt = Date.now();
  const okCount = await drive(work, durationMs);
  const wallMs = Date.now() - startedAt;
  const serverCpuMs = processCpuMs(pid) - serverBefore;
  const harness = process.cpuUsage(harnessBefore);
  const otherCpuMs = machineBusyCpuMs() - machineBefore - serverCpuMs - (harness.user + harness.system) / 1000;
  const serverCounted = (await counterValue(metricsUrl, ...counter)) - countedBefore;
  // The server's own count must agree: a run of errors or of something else is not a measurement.
  if (serverCounted !== okCount) throw new Error(`${scenario}: client counted ${okCount} successes, auth counted ${serverCounted}`);
  return { scenario, okCount, wallMs, serverCpuMs, otherCpuMs, serverCounted };
}

async function waitUntilServing(client: AuthClient, child: ChildProcess, log: () => string): Promise<void> {
  const giveUpAt = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`auth exited before serving:\n${log()}`);
    try {
      await client.getJwks({}, { timeoutMs: 1000 });
      return;
    } catch {
      if (Date.now() > giveUpAt) throw new Error(`auth did not serve within 60 s:\n${log()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function main(): Promise<void> {
  const [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
  const databaseUrl = await postgres.createDatabase("bench_auth");
  const keys = randomKeyEncryptionKeys();
  const [grpcPort, httpPort, adminPort] = [await findFreePort(), await findFreePort(), await findFreePort()];
  let output = "";
  // The server alone on CPU 0; this harness, PostgreSQL and Redis share the other CPU.
  const child = spawn("taskset", ["-c", "0", process.execPath, ...serviceNodeArguments, "src/main.ts"], {
    cwd: join(repoRoot, "services", "auth"),
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(httpPort),
      ADMIN_PORT: String(adminPort),
      LOG_LEVEL: "warn",
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisServer.url,
      AUTH_GRPC_URL: `http://127.0.0.1:${grpcPort}`,
      AUTH_KEK_RING: keys.ring,
      AUTH_KEK_ACTIVE_ID: keys.activeId,
      // Limits far above the load, so they never refuse a benchmark call; their Redis cost is still paid.
      AUTH_RATE_LIMIT_PER_IP: "1000000",
      AUTH_RATE_LIMIT_PER_IDENTIFIER: "1000000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  });
  const client = createClient(AuthService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }));
  const redis = new Redis(redisServer.url);
  const metricsUrl = `http://127.0.0.1:${adminPort}/metrics`;
  try {
    await waitUntilServing(client, child, () => output);
    const emails = Array.from({ length: userCount }, (_, index) => `bench-${index}@example.com`);
    for (const [index, email] of emails.entries()) await client.signUp({ email, password, idempotencyKey: `bench-${index}` });
    for (const email of emails) {
      let code: string | undefined;
      for (let attempt = 0; attempt < 100 && !code; attempt++) {
        code = (await redis.lrange("dev-outbox", 0, -1))
          .map((text) => JSON.parse(text) as { to: string; code?: string })
          .find((entry) => entry.to === email)?.code;
        if (!code) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await client.completeEmailVerification({ email, code: code as string });
    }

    let next = 0;
    const logins = await measure("password login", child.pid as number, metricsUrl, ["auth_logins_total", "success"], async () => {
      const email = emails[next++ % emails.length] as string;
      const answer = await client.login({ identifier: { case: "email", value: email }, password });
      if (answer.result.case !== "tokens") throw new Error("login did not return tokens");
    });

    const refreshTokens: string[] = [];
    for (let worker = 0; worker < concurrency; worker++) {
      const answer = await client.login({ identifier: { case: "email", value: emails[worker % emails.length] as string }, password });
      if (answer.result.case !== "tokens") throw new Error("login did not return tokens");
      refreshTokens.push(answer.result.value.refreshToken);
    }
    const refreshes = await measure(
      "token refresh (rotation)",
      child.pid as number,
      metricsUrl,
      ["auth_token_refreshes_total", "rotated"],
      async (worker) => {
        const answer = await client.refreshTokens({ refreshToken: refreshTokens[worker] as string });
        refreshTokens[worker] = answer.tokens?.refreshToken as string;
      },
    );
    report([logins, refreshes]);
  } finally {
    redis.disconnect();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await Promise.all([redisServer.stop(), postgres.stop()]);
  }
}

function report(measurements: Measurement[]): void {
  const anchors: Record<string, number> = { "password login": 15, "token refresh (rotation)": 120 };
  const rows = measurements.map((measurement) => {
    const perSecond = (measurement.okCount * 1000) / measurement.wallMs;
    const perCoreSecond = (measurement.okCount * 1000) / measurement.serverCpuMs;
    const anchor = anchors[measurement.scenario] ?? 0;
    return `| ${measurement.scenario} | ${perSecond.toFixed(1)} | ${((measurement.serverCpuMs / measurement.wallMs) * 100).toFixed(1)}% | **${perCoreSecond.toFixed(1)}** | ${((measurement.serverCpuMs * 1000) / measurement.okCount / 1000).toFixed(2)} | ${(measurement.otherCpuMs / measurement.wallMs).toFixed(2)} | ${anchor} | ${(perCoreSecond / anchor).toFixed(1)}× |`;
  });
  const cpu = os.cpus()[0]?.model ?? "unknown";
  const section = [
    `## ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
    "",
    `- Command: \`node bench/auth/run.ts ${process.argv.slice(2).join(" ")}\``.replace(/ `$/, "`"),
    `- Machine: ${cpu}, ${os.availableParallelism()} CPUs, ${os.type()} ${os.release()}; Node ${process.version}`,
    `- Method: auth as a real process pinned to CPU 0 (argon2id m=19456 KiB, t=2, p=1; libuv's default 4 threads); this harness, PostgreSQL and Redis on the other CPU; ${concurrency} concurrent callers over gRPC; ${userCount} verified users, logins round-robin over them; ${warmUpMs / 1000} s warm-up, then ${durationMs / 1000} s measured; every success also counted by auth's own metrics and the two counts must agree.`,
    "",
    "| Scenario | ops/s (wall) | auth CPU | ops per auth CPU-second (per core) | auth CPU ms/op | other CPU (cores) | Keycloak per vCPU | ratio |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
  console.log(section);
  if (options["no-write"]) return;
  if (!existsSync(resultsPath))
    writeFileSync(
      resultsPath,
      "# bench/auth results\n\nNewest last. Each section is one run of the command it names; bench/README.md explains the columns.\n\n",
    );
  appendFileSync(resultsPath, `${section}\n`);
}

await main();
