// Reads rpc_server_requests_total from the runtime's admin port, so the
// harness can compare what the server says it answered with what h2load saw.
export type RequestCounts = Map<string, number>;

/** Key of one counter series: "<service>/<method> <code>". */
export function seriesKey(service: string, method: string, code: string): string {
  return `${service}/${method} ${code}`;
}

export function parseRequestCounts(exposition: string): RequestCounts {
  const counts: RequestCounts = new Map();
  for (const line of exposition.split("\n")) {
    if (!line.startsWith("rpc_server_requests_total{")) continue;
    const match = /^rpc_server_requests_total\{([^}]*)\} ([\d.e+]+)/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...(match[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map(([, name, value]) => [name, value]));
    counts.set(seriesKey(labels.service ?? "", labels.method ?? "", labels.code ?? ""), Number(match[2]));
  }
  return counts;
}

export async function scrapeRequestCounts(adminPort: number): Promise<RequestCounts> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return parseRequestCounts(await response.text());
}

/** Per-series increase between two scrapes; series that did not move are left out. */
export function countsIncrease(before: RequestCounts, after: RequestCounts): RequestCounts {
  const increase: RequestCounts = new Map();
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) increase.set(key, delta);
  }
  return increase;
}
