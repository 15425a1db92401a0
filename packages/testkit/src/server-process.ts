import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, readFileSync, rmSync } from "node:fs";

/**
 * Shared plumbing for the database servers the testkit starts as child processes:
 * dropping root, tying the child's life to ours, keeping the tail of its log for error
 * messages, and stopping it with escalating signals.
 */

export type OsUser = { name: string; uid: number; gid: number };

export type ServerProcess = {
  child: ChildProcess;
  /** The last few kilobytes the server printed, for error messages. */
  logTail: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<string>;
  hasExited: () => boolean;
};

const logTailCharsMax = 16 * 1024;
const setprivPaths = ["/usr/bin/setpriv", "/bin/setpriv"];

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

export function findSetpriv(): string | undefined {
  return setprivPaths.find((path) => isExecutable(path));
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Reads a user from /etc/passwd, so no `getent` or native module is needed. */
export function findOsUser(name: string): OsUser | undefined {
  let passwd: string;
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    return undefined;
  }
  for (const line of passwd.split("\n")) {
    const [userName, , uid, gid] = line.split(":");
    if (userName === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  return undefined;
}

export function findOsUserById(uid: number): OsUser | undefined {
  let passwd: string;
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    return undefined;
  }
  for (const line of passwd.split("\n")) {
    const [userName, , id, gid] = line.split(":");
    if (userName !== undefined && Number(id) === uid && gid !== undefined) {
      return { name: userName, uid, gid: Number(gid) };
    }
  }
  return undefined;
}

export type SpawnServerOptions = {
  command: string;
  args: string[];
  /** Run as this user (needs root and setpriv). */
  runAs?: OsUser;
  /** Sent to the server by the kernel if this Node process dies without stopping it. */
  parentDeathSignal: NodeJS.Signals;
  env?: NodeJS.ProcessEnv;
};

/**
 * Starts a server in its own process group, so a Ctrl-C in the terminal reaches only
 * the Node process, which can then stop services before their databases. Through
 * setpriv the kernel also sends `parentDeathSignal` to the server when Node dies
 * without cleaning up (a crash, SIGKILL), so no orphaned database outlives a test run.
 */
export function spawnServer(options: SpawnServerOptions): ServerProcess {
  const setpriv = findSetpriv();
  let command = options.command;
  let args = options.args;
  if (options.runAs !== undefined && setpriv === undefined) {
    throw new Error(
      `setpriv (util-linux) is needed to run ${options.command} as user ${options.runAs.name} because this process runs as root`,
    );
  }
  if (setpriv !== undefined) {
    const privilegeArgs =
      options.runAs === undefined ? [] : [`--reuid=${options.runAs.uid}`, `--regid=${options.runAs.gid}`, "--clear-groups"];
    // setpriv applies the parent-death signal after changing user (the kernel clears it on
    // a uid change) and then execs, so the pid we hold is the server's own.
    args = [...privilegeArgs, `--pdeathsig=${options.parentDeathSignal}`, "--", command, ...args];
    command = setpriv;
  }
  const child = spawn(command, args, {
    // A neutral working directory: the server user may not be able to enter ours (/root).
    cwd: "/",
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: options.env ?? process.env,
  });
  let tail = "";
  const append = (chunk: string): void => {
    tail = (tail + chunk).slice(-logTailCharsMax);
  };
  // Decoded per stream, so a character whose bytes two chunks split arrives whole.
  child.stdout?.setEncoding("utf8").on("data", append);
  child.stderr?.setEncoding("utf8").on("data", append);
  let done = false;
  const exited = new Promise<string>((resolve) => {
    child.once("error", (error) => {
      done = true;
      append(`\nspawn failed: ${error.message}\n`);
      resolve("spawn-error");
    });
    child.once("exit", (code, signal) => {
      done = true;
      resolve(signal ?? String(code));
    });
  });
  // The pipes alone must not keep a test process alive; stop() is how a server ends.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  return { child, logTail: () => tail, exited, hasExited: () => done };
}

/**
 * Sends `signal`, then escalates to SIGKILL if the server has not exited within
 * `timeoutMs`, so stop() always finishes.
 */
export async function stopServer(server: ServerProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (server.hasExited()) return;
  server.child.kill(signal);
  if (await exitsWithin(server, timeoutMs)) return;
  server.child.kill("SIGKILL");
  await server.exited;
}

export async function exitsWithin(server: ServerProcess, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([server.exited.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a short command to completion and returns its output; throws with the output on failure. */
export function runToCompletion(
  command: string,
  args: string[],
  options: { runAs?: OsUser; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<string> {
  const setpriv = findSetpriv();
  if (options.runAs !== undefined) {
    if (setpriv === undefined) {
      throw new Error(`setpriv (util-linux) is needed to run ${command} as user ${options.runAs.name} because this process runs as root`);
    }
    args = [`--reuid=${options.runAs.uid}`, `--regid=${options.runAs.gid}`, "--clear-groups", "--", command, ...args];
    command = setpriv;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: "/",
      stdio: ["ignore", "pipe", "pipe"],
      env: options.env ?? process.env,
      timeout: options.timeoutMs,
      killSignal: "SIGKILL",
    });
    let output = "";
    const collect = (chunk: string) => {
      output += chunk;
    };
    child.stdout.setEncoding("utf8").on("data", collect);
    child.stderr.setEncoding("utf8").on("data", collect);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolve(output);
      else {
        const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
        reject(new Error(`${command} ${args.join(" ")} failed (${how}):\n${output.slice(-4000)}`));
      }
    });
  });
}

const exitCleanups = new Set<() => void>();

/**
 * For throwaway servers a test forgot to stop (or a run that ends with process.exit):
 * when this process exits, kill the server and delete its folder. Persistent servers do
 * not use this; the parent-death signal shuts them down cleanly instead. Returns a
 * function that cancels the cleanup, for stop() to call.
 */
export function removeOnProcessExit(server: ServerProcess, dir: string): () => void {
  if (exitCleanups.size === 0) process.once("exit", runExitCleanups);
  const cleanup = (): void => {
    if (!server.hasExited()) server.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  exitCleanups.add(cleanup);
  return () => {
    exitCleanups.delete(cleanup);
    if (exitCleanups.size === 0) process.removeListener("exit", runExitCleanups);
  };
}

function runExitCleanups(): void {
  for (const cleanup of exitCleanups) {
    try {
      cleanup();
    } catch {
      // Exiting anyway; a folder left in the temp directory is the worst outcome.
    }
  }
}
