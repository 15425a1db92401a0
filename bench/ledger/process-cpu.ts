// CPU time of the processes under measurement, from /proc: the ledger process
// and the whole PostgreSQL server (postmaster, its live backends, and the
// children it has already reaped). Engineers share this machine, so wall-clock
// throughput moves with their load; CPU spent per transfer moves far less and
// says what a transfer costs.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import * as path from "node:path";
import { clockTicksPerSecond } from "../rpc/machine-load.ts";

interface ProcessTimes {
  parentPid: number;
  /** utime + stime, in clock ticks. */
  ownTicks: number;
  /** cutime + cstime: children that exited and were waited for. */
  reapedChildrenTicks: number;
}

function readTimes(pid: number): ProcessTimes | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // Exited meanwhile.
  }
  // The command name is in parentheses and may hold spaces; fields count from after it.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    parentPid: Number(fields[1]),
    ownTicks: Number(fields[11]) + Number(fields[12]),
    reapedChildrenTicks: Number(fields[13]) + Number(fields[14]),
  };
}

function processIds(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/**
 * The one process running services/<name>/src/main.ts below repoRoot. Two are
 * refused: one left behind by an interrupted run would be measured instead of
 * this run's, idle, and its CPU read as this run's.
 */
export function findServiceProcess(repoRoot: string, name: string): number {
  const serviceDirectory = path.join(repoRoot, "services", name);
  const found = processIds().filter((pid) => {
    if (!commandLine(pid).includes("src/main.ts")) return false;
    try {
      return readlinkSync(`/proc/${pid}/cwd`) === serviceDirectory;
    } catch {
      return false; // Not ours to read, or gone.
    }
  });
  if (found.length === 0) throw new Error(`no process runs services/${name}/src/main.ts`);
  if (found.length > 1)
    throw new Error(`several processes run services/${name}/src/main.ts (pids ${found.join(", ")}); stop the ones an earlier run left`);
  return found[0] as number;
}

/** The postmaster serving `dataDir`. */
export function findPostmaster(dataDir: string): number {
  for (const pid of processIds()) {
    const command = commandLine(pid);
    if (command.includes(`-D ${dataDir} `) || command.endsWith(`-D ${dataDir}`)) return pid;
  }
  throw new Error(`no PostgreSQL server runs on ${dataDir}`);
}

/** CPU milliseconds one process has used so far. */
export function processCpuMs(pid: number): number {
  return ((readTimes(pid)?.ownTicks ?? 0) * 1000) / clockTicksPerSecond;
}

/**
 * Milliseconds a process's main thread has spent on a CPU, and runnable but
 * waiting for one, so far (/proc/<pid>/task/<pid>/schedstat, in nanoseconds).
 * The wait is the scheduler's delay: on a machine whose cores the ledger,
 * PostgreSQL and the generator share, a thread that is busy or waiting nearly
 * all the time queues every call behind any stall. NaN where the kernel keeps
 * no schedstat.
 */
export function mainThreadScheduleMs(pid: number): { runningMs: number; waitingMs: number } {
  try {
    const [running, waiting] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ").map(Number);
    return { runningMs: (running ?? Number.NaN) / 1e6, waitingMs: (waiting ?? Number.NaN) / 1e6 };
  } catch {
    return { runningMs: Number.NaN, waitingMs: Number.NaN }; // Exited, or no schedstat.
  }
}

/** CPU milliseconds the whole PostgreSQL server has used so far: postmaster, backends alive and exited. */
export function postgresCpuMs(postmasterPid: number): number {
  const postmaster = readTimes(postmasterPid);
  if (postmaster === undefined) return 0;
  let ticks = postmaster.ownTicks + postmaster.reapedChildrenTicks;
  for (const pid of processIds()) {
    const times = readTimes(pid);
    if (times?.parentPid === postmasterPid) ticks += times.ownTicks;
  }
  return (ticks * 1000) / clockTicksPerSecond;
}
