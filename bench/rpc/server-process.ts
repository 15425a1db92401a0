// Starts a benchmark server as a child process, pinned to its own core when
// taskset exists, so the load generator never shares the server's event loop
// or CPU. Talks to it over the IPC channel (child-protocol.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import type { ChildMessage, ParentMessage, ServerPorts } from "./child-protocol.ts";

export interface ServerProcessOptions {
  /** Path of the child's entry module. */
  entryPath: string;
  /** CPU to pin the server to, or undefined to leave it unpinned. */
  cpu: number | undefined;
  /** Where the child's stdout and stderr (its logs) go. */
  logPath: string;
  /** The child's environment before `env` is added; this process's by default. */
  baseEnv?: Record<string, string | undefined>;
  env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  startTimeoutMs?: number;
}

export interface ServerProcess {
  readonly ports: ServerPorts;
  readonly pid: number;
  stats(): Promise<{ okCount: number | undefined; cpuMicros: number }>;
  startProfile(): Promise<void>;
  /** Stops the profiler and writes the .cpuprofile to profilePath. */
  stopProfile(profilePath: string): Promise<void>;
  stop(): Promise<void>;
}

function waitForMessage<T extends ChildMessage["type"]>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
  logPath: string,
): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ChildMessage) => {
      if (message.type === "failed") {
        cleanup();
        return reject(new Error(`benchmark server failed: ${message.message}; see ${logPath}`));
      }
      if (message.type !== type) return;
      cleanup();
      resolve(message as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`benchmark server exited (code ${code}) before '${type}'; see ${logPath}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`benchmark server sent no '${type}' within ${timeoutMs} ms; see ${logPath}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const nodeArgs = [...(options.nodeFlags ?? []), options.entryPath];
  const [command, args] =
    options.cpu === undefined ? [process.execPath, nodeArgs] : ["taskset", ["-c", String(options.cpu), process.execPath, ...nodeArgs]];
  const logFd = openSync(options.logPath, "a");
  const child = spawn(command, args, {
    stdio: ["ignore", logFd, logFd, "ipc"],
    env: { ...(options.baseEnv ?? process.env), ...options.env },
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const send = (message: ParentMessage) => child.send(message);
  let ready: Extract<ChildMessage, { type: "ready" }>;
  try {
    ready = await waitForMessage(child, "ready", options.startTimeoutMs ?? 30_000, options.logPath);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    ports: ready.ports,
    pid: child.pid as number,
    async stats() {
      const reply = waitForMessage(child, "stats", 5000, options.logPath);
      send({ type: "stats" });
      const { okCount, cpuMicros } = await reply;
      return { okCount, cpuMicros };
    },
    async startProfile() {
      const reply = waitForMessage(child, "profile-started", 5000, options.logPath);
      send({ type: "profile-start" });
      await reply;
    },
    async stopProfile(profilePath) {
      const reply = waitForMessage(child, "profile-written", 60_000, options.logPath);
      send({ type: "profile-stop", path: profilePath });
      await reply;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      send({ type: "stop" });
      const forced = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(forced);
    },
  };
}
