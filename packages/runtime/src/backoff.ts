// How long a background job waits before its next attempt: exponential in the
// attempt number, capped, with "equal jitter" (half the delay fixed, half
// random) so jobs that failed together do not retry together, yet none retries
// sooner than half its delay.

/** The delay before retry number `attempt` (1 for the first retry), in milliseconds. */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
