import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";

/** The table that records applied migrations; the schema check ignores it. */
export const migrationsTableName = "_trustmesh_migrations";

export type MigrationLogger = {
  info: (fields: Record<string, unknown>, message: string) => void;
  warn: (fields: Record<string, unknown>, message: string) => void;
};

export type ApplyMigrationsOptions = {
  databaseUrl: string;
  /** A Prisma migrations folder: `<timestamp>_<name>/migration.sql` per migration. */
  migrationsDir: string;
  logger?: MigrationLogger;
  /** How long to wait for another replica that holds the migration lock. */
  lockTimeoutMs?: number;
};

export type AppliedMigration = {
  name: string;
  /** sha256 of migration.sql, hex. */
  checksum: string;
  durationMs: number;
};

type MigrationFile = { name: string; sql: string; checksum: string };

/**
 * Applies every migration in `migrationsDir` that the database has not seen, in lexical
 * order of folder name, each in its own transaction together with its record, so a
 * failing migration leaves neither its changes nor a record behind.
 *
 * A session-level advisory lock serialises runners: when N replicas start at once, one
 * applies and the others wait, then find nothing left to do. Before applying anything it
 * refuses to go on if an applied migration's file has changed or disappeared, because
 * then the database no longer matches what the code was written against.
 *
 * Migrations run inside a transaction, so statements that cannot (CREATE INDEX
 * CONCURRENTLY, VACUUM) are not supported.
 */
export async function applyMigrations(options: ApplyMigrationsOptions): Promise<AppliedMigration[]> {
  const files = await readMigrationFiles(options.migrationsDir);
  const lockTimeoutMs = options.lockTimeoutMs ?? 120_000;
  const client = new pg.Client({
    connectionString: options.databaseUrl,
    connectionTimeoutMillis: 10_000,
    application_name: "trustmesh-migrate",
  });
  // Errors on an idle connection would otherwise crash the process; the next query reports them.
  client.on("error", () => {});
  await client.connect();
  try {
    // The lock key is per schema, so services sharing one database in separate schemas
    // do not wait for each other. lock_timeout bounds the wait and is reset afterwards.
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
    try {
      await client.query(`SELECT pg_advisory_lock(hashtextextended('${migrationsTableName}:' || coalesce(current_schema(), ''), 0))`);
    } catch (error) {
      throw new Error(`could not take the migration lock within ${lockTimeoutMs} ms: another runner holds it (${errorMessage(error)})`, {
        cause: error,
      });
    }
    await client.query("RESET lock_timeout");

    await client.query(`
      CREATE TABLE IF NOT EXISTS "${migrationsTableName}" (
        name        text PRIMARY KEY,
        checksum    text NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now(),
        duration_ms integer NOT NULL
      )`);
    const appliedRows = await client.query<{ name: string; checksum: string }>(
      `SELECT name, checksum FROM "${migrationsTableName}" ORDER BY name`,
    );
    const applied = new Map(appliedRows.rows.map((row) => [row.name, row.checksum]));
    verifyAppliedUnchanged(applied, files, options.migrationsDir);

    const pending = files.filter((file) => !applied.has(file.name));
    const lastApplied = appliedRows.rows.at(-1)?.name;
    const result: AppliedMigration[] = [];
    for (const file of pending) {
      if (lastApplied !== undefined && file.name < lastApplied) {
        // Two branches can each add a migration; the older-named one lands second. It is
        // applied, but someone should check it does not depend on running first.
        options.logger?.warn({ migration: file.name, lastApplied }, "applying a migration that sorts before one already applied");
      }
      const startedAt = performance.now();
      await client.query("BEGIN");
      try {
        await client.query(file.sql);
        const durationMs = Math.round(performance.now() - startedAt);
        await client.query(`INSERT INTO "${migrationsTableName}" (name, checksum, duration_ms) VALUES ($1, $2, $3)`, [
          file.name,
          file.checksum,
          durationMs,
        ]);
        await client.query("COMMIT");
        result.push({ name: file.name, checksum: file.checksum, durationMs });
        options.logger?.info({ migration: file.name, durationMs }, "applied migration");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw new Error(`migration ${file.name} failed and was rolled back: ${errorMessage(error)}`, {
          cause: error,
        });
      }
    }
    return result;
  } finally {
    // Closing the session releases the advisory lock, even after an error.
    await client.end().catch(() => {});
  }
}

/** Reads `<dir>/<name>/migration.sql` for every sub-folder, sorted by name. */
export async function readMigrationFiles(migrationsDir: string): Promise<MigrationFile[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    // Code-unit order, not locale order, so every machine agrees on the sequence.
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: MigrationFile[] = [];
  for (const name of names) {
    const path = join(migrationsDir, name, "migration.sql");
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      throw new Error(`migration folder ${join(migrationsDir, name)} has no readable migration.sql`, { cause: error });
    }
    files.push({ name, sql: bytes.toString("utf8"), checksum: createHash("sha256").update(bytes).digest("hex") });
  }
  return files;
}

function verifyAppliedUnchanged(applied: Map<string, string>, files: MigrationFile[], migrationsDir: string): void {
  const byName = new Map(files.map((file) => [file.name, file]));
  const problems: string[] = [];
  for (const [name, checksum] of applied) {
    const file = byName.get(name);
    if (file === undefined) {
      problems.push(`migration ${name} was applied to the database but its folder is missing from ${migrationsDir}`);
    } else if (file.checksum !== checksum) {
      problems.push(`migration ${name} was changed after it was applied (recorded sha256 ${checksum}, file now ${file.checksum})`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `refusing to migrate: ${problems.join("; ")}. Applied migrations must never be edited or removed; add a new migration instead.`,
    );
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
