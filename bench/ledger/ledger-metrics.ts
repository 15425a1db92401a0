// The ledger's own Prometheus series, read from its /metrics endpoint.

/** Reads the named series, each summed over its labels (0 when absent). */
export async function ledgerMetrics<Name extends string>(metricsUrl: string, names: readonly Name[]): Promise<Record<Name, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const sum = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "gm"))].reduce((total, match) => total + Number(match[1]), 0);
  return Object.fromEntries(names.map((name) => [name, sum(name)])) as Record<Name, number>;
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
