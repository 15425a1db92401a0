// The pg pools a service process keeps open: the runtime's shared pool and any
// a service adds for itself (the ledger's batch writer). They make their
// connections the same way, so a change to how connections query
// (CallbackFormClient) or how long they may wait reaches every one of them.
import pg from "pg";
import type { Logger } from "../logger.ts";
import { CallbackFormClient } from "./callback-form-client.ts";

/** Where to connect and how many connections at most; any other pg pool setting (pipeline, lock_timeout ...) is added or overridden. */
export type ServicePoolOptions = pg.PoolConfig & { connectionString: string; max: number };

/**
 * A pg pool with the service defaults: 5 s to get a connection, 30 s for any
 * one statement, promise-form queries run through pg's callback form, and an
 * idle connection's failure logged as `idle <description> connection failed`
 * instead of crashing the process.
 */
export function createServicePool(options: ServicePoolOptions, logger: Logger, description: string): pg.Pool {
  const pool = new pg.Pool({
    connectionTimeoutMillis: 5000,
    // A stuck statement must not hold a pooled connection for ever.
    statement_timeout: 30_000,
    // Promise-form queries that the young generation can collect (callback-form-client.ts).
    Client: CallbackFormClient,
    ...options,
  });
  pool.on("error", (error) => logger.warn({ err: error }, `idle ${description} connection failed`));
  return pool;
}
