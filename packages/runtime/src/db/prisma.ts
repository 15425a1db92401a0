import { PrismaPg } from "@prisma/adapter-pg";
import type pg from "pg";

export type CreatePrismaClientOptions = {
  /** Where to connect; ignored when `pool` is given. */
  databaseUrl?: string;
  /**
   * An existing pool to share, as services do: one pool serves Prisma, the
   * readiness check and the pool metrics. Pool settings below then do not apply.
   */
  pool?: pg.Pool;
  /** Most connections the pool opens; pg's default is 10. */
  poolMax?: number;
  /** How long to wait for a connection before failing the query. */
  connectionTimeoutMs?: number;
  /** How long an unused connection stays open. */
  idleTimeoutMs?: number;
  /** Server-side bound on any one statement, so a stuck query cannot hold a connection forever. */
  statementTimeoutMs?: number;
  /** Postgres schema for generated queries, when a service lives in its own schema. */
  schema?: string;
  /** Called when an idle pooled connection fails (for example, the server restarted). */
  onPoolError?: (error: Error) => void;
};

/**
 * Builds a service's generated Prisma Client (Prisma 7, `prisma-client` generator)
 * on the pg driver adapter. The class is passed in because each service generates its
 * own client; the runtime cannot import it.
 *
 *   const prisma = createPrismaClient(PrismaClient, { databaseUrl: config.databaseUrl });
 */
export function createPrismaClient<Client>(
  PrismaClientClass: new (options: { adapter: PrismaPg }) => Client,
  options: CreatePrismaClientOptions,
): Client {
  // Without either, pg would quietly fall back to PG* environment variables.
  if (options.pool === undefined && options.databaseUrl === undefined) throw new Error("createPrismaClient needs a pool or a databaseUrl");
  const poolOrConfig: pg.Pool | pg.PoolConfig = options.pool ?? {
    connectionString: options.databaseUrl,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
  };
  const adapter = new PrismaPg(poolOrConfig, {
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.onPoolError === undefined ? {} : { onPoolError: options.onPoolError }),
  });
  return new PrismaClientClass({ adapter });
}
