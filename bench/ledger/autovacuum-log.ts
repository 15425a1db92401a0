// bench/ledger/autovacuum-log.ts: what PostgreSQL's autovacuum did during a
// profile window, read from the server's own log. pg_stat_user_tables only
// counts runs and keeps the last one's end; the log has every run with its end
// time, its duration and its CPU, which is what lines a run up with a bad
// second of latency.
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

/** Server settings (startPostgres's `settings`) that make the log readable by autovacuumRuns. */
export const autovacuumLogSettings = [
  "logging_collector=on",
  "log_autovacuum_min_duration=0",
  "log_timezone=UTC",
  "log_line_prefix=%m [%p] ",
];

export interface AutovacuumRun {
  kind: "vacuum" | "analyze";
  /** Schema-qualified table, without the database name. */
  table: string;
  /** Wall-clock start and end, in Unix milliseconds. */
  startMs: number;
  endMs: number;
  /** user + system CPU seconds of the worker. */
  cpuSeconds: number;
}

// PostgreSQL 15's vacuumlazy.c and analyze.c: "automatic [aggressive ]vacuum [to prevent wraparound ]of table "db.schema.table"",
// "automatic analyze of table ...", and, some lines later, the run's "system usage" line.
const header =
  /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[\d+\] LOG: {2}automatic (?:aggressive )?(vacuum|analyze) (?:to prevent wraparound )?of table "[^".]+\.([^"]+)"/;
const usage = /system usage: CPU: user: ([\d.]+) s, system: ([\d.]+) s, elapsed: ([\d.]+) s/;

/** Every autovacuum run logged in `dataDir`'s log directory (the default, `log`), oldest first. */
export function autovacuumRuns(dataDir: string): AutovacuumRun[] {
  const logDirectory = path.join(dataDir, "log");
  const runs: AutovacuumRun[] = [];
  for (const file of readdirSync(logDirectory).sort()) {
    const lines = readFileSync(path.join(logDirectory, file), "utf8").split("\n");
    lines.forEach((line, index) => {
      const match = header.exec(line);
      if (match === null) return;
      // The usage line belongs to this run if it comes before the next logged line of any kind.
      let cost: RegExpExecArray | null = null;
      for (let next = index + 1; next < lines.length && cost === null; next++) {
        if (/^\d{4}-/.test(lines[next] as string)) break;
        cost = usage.exec(lines[next] as string);
      }
      if (cost === null) return;
      const endMs = Date.parse(`${(match[1] as string).replace(" ", "T")}Z`);
      runs.push({
        kind: match[2] as "vacuum" | "analyze",
        table: match[3] as string,
        startMs: endMs - Number(cost[3]) * 1000,
        endMs,
        cpuSeconds: Number(cost[1]) + Number(cost[2]),
      });
    });
  }
  return runs.sort((a, b) => a.startMs - b.startMs);
}

/** The runs that overlapped a window, from `fromMs` to `toMs` (epoch milliseconds). */
export function runsInWindow(runs: readonly AutovacuumRun[], fromMs: number, toMs: number): AutovacuumRun[] {
  return runs.filter((run) => run.endMs > fromMs && run.startMs < toMs);
}
