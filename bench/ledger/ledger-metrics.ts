// The ledger's own Prometheus series, read from its /metrics endpoint, and the
// counters a measured window is read from.
import type { WindowSampler } from "./load.ts";
import { postgresCpuMs, processCpuMs } from "./process-cpu.ts";

/** Reads the named series, each summed over its labels (0 when absent). */
export async function ledgerMetrics<Name extends string>(metricsUrl: string, names: readonly Name[]): Promise<Record<Name, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const sum = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "gm"))].reduce((total, match) => total + Number(match[1]), 0);
  return Object.fromEntries(names.map((name) => [name, sum(name)])) as Record<Name, number>;
}

/**
 * The ledger's full (mark-compact) garbage collections so far: how many, and
 * their pauses in milliseconds, from prom-client's default nodejs_gc_duration_seconds.
 * A single transfer waits out such a pause, and the calls queued behind it.
 */
export async function fullGcTotals(metricsUrl: string): Promise<{ fullGcs: number; fullGcPauseMs: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const read = (series: string) => {
    let total = 0;
    for (const [, labels, value] of text.matchAll(new RegExp(`^nodejs_gc_duration_seconds_${series}\\{([^}]*)\\} (\\S+)`, "gm"))) {
      if (/(^|,)kind="major"(,|$)/.test(labels as string)) total += Number(value);
    }
    return total;
  };
  return { fullGcs: read("count"), fullGcPauseMs: read("sum") * 1000 };
}

/**
 * What a row's window is read from: the ledger's and PostgreSQL's CPU
 * milliseconds (and `machine`'s busy ones, when given) at the instant the
 * window opens or closes, then the ledger's full collections from /metrics.
 */
export function ledgerWindowSampler(target: {
  metricsUrl: string;
  ledgerPid: number;
  postmasterPid: number;
  machineBusyCpuMs?: () => number;
}): WindowSampler {
  return async () => {
    const cpuMs: Record<string, number> = { ledger: processCpuMs(target.ledgerPid), postgres: postgresCpuMs(target.postmasterPid) };
    if (target.machineBusyCpuMs) cpuMs.machine = target.machineBusyCpuMs();
    return { ...cpuMs, ...(await fullGcTotals(target.metricsUrl)) };
  };
}

/**
 * Fails when the ledger refused any transfer since `before` (a count of
 * ledger_rejections_total): the generator counts a call's transfers as
 * committed from its status alone, and PostTransactions answers OK with
 * per-item rejections.
 */
export async function assertNoRejectionsSince(metricsUrl: string, before: number): Promise<void> {
  const { ledger_rejections_total: now } = await ledgerMetrics(metricsUrl, ["ledger_rejections_total"]);
  if (now !== before) throw new Error(`the ledger refused ${now - before} transfers during the run (ledger_rejections_total)`);
}
