// Waiting for something a service does in the background (a message sent, an
// event delivered, a payment settled), polled with a bound on the wait.

/** Polls probe every 100 ms until it returns a value (not undefined, null or false); throws after waitMs. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, waitMs: number): Promise<T> {
  const giveUpAt = Date.now() + waitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > giveUpAt) throw new Error(`${what} did not happen within ${waitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
