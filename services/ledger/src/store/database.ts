// What the store needs from pg: a pool or a client inside a transaction.
import type pg from "pg";

export type Queryable = Pick<pg.Pool, "query"> | Pick<pg.PoolClient, "query">;

/** SQLSTATEs after which the same batch may simply be tried again. */
const retryableStates = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available (lock_timeout)
]);

export function isRetryable(error: unknown): boolean {
  return typeof error === "object" && error !== null && retryableStates.has((error as { code?: string }).code ?? "");
}

/** Runs work inside BEGIN … COMMIT on one pooled client; rolls back on any error. */
export async function inTransaction<T>(pool: pg.Pool, begin: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    // A connection that cannot even roll back is discarded rather than returned to the pool.
    await client.query("ROLLBACK").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Issues the queries `send` starts with the connection's socket corked, so on a
 * pipelined connection they leave in one write — one system call here and one
 * read for PostgreSQL — instead of one each: pg corks only within one extended
 * query and writes a simple query on its own. pg submits synchronously, so
 * everything `send` queued is in the buffer when the cork comes off.
 */
export function sentTogether<T>(client: pg.PoolClient, send: () => T): T {
  const socket = client.connection.stream;
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}

/** Bytes that PL/pgSQL returned in JSON, as hex. */
export const hex = (value: string) => Buffer.from(value, "hex");
