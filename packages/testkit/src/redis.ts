import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findFreePort } from "./free-port.ts";
import { isExecutable, removeOnProcessExit, type ServerProcess, spawnServer, stopServer } from "./server-process.ts";

export type StartRedisOptions = {
  /**
   * Where Redis keeps its files. Omitted: a temporary directory deleted by stop().
   * Given with `ephemeral: false`: a persistent folder with an append-only file.
   */
  dataDir?: string;
  /**
   * No persistence at all, directory deleted by stop(). Defaults to true without a
   * dataDir and false with one, so a named folder is never deleted by accident.
   */
  ephemeral?: boolean;
  /** A fixed port; by default a free one is picked. */
  port?: number;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
};

export type RedisServer = {
  /** redis://127.0.0.1:<port> */
  url: string;
  host: string;
  port: number;
  dataDir: string;
  /** Stops the server; an ephemeral server's directory is deleted. Safe to call twice. */
  stop: () => Promise<void>;
};

const host = "127.0.0.1";
const startAttemptsMax = 5;
const redisServerPaths = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"];

/**
 * Starts redis-server on 127.0.0.1 without a password, for tests and local development
 * only. Redis runs fine as root, so unlike PostgreSQL it needs no user switch.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const ephemeral = options.ephemeral ?? options.dataDir === undefined;
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const binary = findRedisServer();

  let ownedDir: string | undefined;
  let dataDir: string;
  if (options.dataDir === undefined) {
    dataDir = await mkdtemp(join(tmpdir(), "trustmesh-redis-"));
    ownedDir = dataDir;
  } else {
    dataDir = resolve(options.dataDir);
    if (ephemeral) {
      if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
        throw new Error(`refusing to use ${dataDir} for a throwaway Redis: it is not empty and would be deleted`);
      }
      ownedDir = dataDir;
    }
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  }

  // Redis holds nothing that cannot be rebuilt (DESIGN.md §4), but the local persistent
  // mode keeps sessions across restarts, which is what a developer expects.
  const persistence = ephemeral ? ["--save", "", "--appendonly", "no"] : ["--appendonly", "yes", "--appendfsync", "everysec"];

  try {
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await findFreePort(host));
      const server = spawnServer({
        command: binary,
        args: [
          "--port",
          String(port),
          "--bind",
          host,
          "--protected-mode",
          "yes",
          "--daemonize",
          "no",
          "--dir",
          dataDir,
          // An empty logfile means standard output, which we keep for error messages.
          "--logfile",
          "",
          ...persistence,
        ],
        // SIGTERM makes Redis flush its append-only file and exit.
        parentDeathSignal: "SIGTERM",
      });
      const ready = await waitUntilReady(server, port, startTimeoutMs);
      if (ready === "ready") {
        let stopping: Promise<void> | undefined;
        const forgetExitCleanup = ownedDir === undefined ? () => {} : removeOnProcessExit(server, ownedDir);
        const stop = (): Promise<void> => {
          stopping ??= (async () => {
            forgetExitCleanup();
            await stopServer(server, "SIGTERM", stopTimeoutMs);
            if (ownedDir !== undefined) await rm(ownedDir, { recursive: true, force: true });
          })();
          return stopping;
        };
        return { url: `redis://${host}:${port}`, host, port, dataDir, stop };
      }
      await stopServer(server, "SIGKILL", 5_000);
      const log = server.logTail();
      if (/Address already in use/i.test(log) && options.port === undefined && attempt < startAttemptsMax) continue;
      throw new Error(`redis-server (${binary}) did not start on port ${port}: ${ready}\n--- server log ---\n${log}`);
    }
  } catch (error) {
    if (ownedDir !== undefined) await rm(ownedDir, { recursive: true, force: true });
    throw error;
  }
}

function findRedisServer(): string {
  const override = process.env.TRUSTMESH_REDIS_SERVER;
  if (override !== undefined && override !== "") {
    if (!isExecutable(override)) throw new Error(`TRUSTMESH_REDIS_SERVER=${override} is not an executable`);
    return override;
  }
  const found = redisServerPaths.find((path) => isExecutable(path));
  if (found === undefined) {
    throw new Error(`redis-server not found in ${redisServerPaths.join(", ")}: install it (apt-get install redis-server)`);
  }
  return found;
}

async function waitUntilReady(server: ServerProcess, port: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no attempt made";
  while (Date.now() < deadline) {
    if (server.hasExited()) return `the server exited (${await server.exited})`;
    try {
      const reply = await ping(port);
      // Our server logs that it is ready only once it holds the port; without that line a
      // PONG could come from another server that took the port first.
      if (reply.startsWith("+PONG") && /Ready to accept connections/.test(server.logTail()) && !server.hasExited()) {
        return "ready";
      }
      // "-LOADING" while a large append-only file is read back: keep waiting.
      lastError = reply.trim();
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 50));
  }
  return `not ready after ${timeoutMs} ms (last error: ${lastError})`;
}

/** One inline PING over a raw socket, so the testkit needs no Redis client library. */
function ping(port: number): Promise<string> {
  return new Promise((resolvePing, reject) => {
    const socket = connect({ host, port });
    let reply = "";
    const timer = setTimeout(() => socket.destroy(new Error("PING timed out")), 1_000);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("utf8");
      if (reply.includes("\r\n")) socket.end();
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once("close", () => {
      clearTimeout(timer);
      resolvePing(reply);
    });
  });
}
