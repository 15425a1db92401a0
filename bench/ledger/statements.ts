// One superuser connection for server settings and set-up statements, used by
// profile.ts and the bench's tests.
import pg from "pg";

/** Runs statements, in order, on one connection to `url`, then closes it. */
export async function runStatements(url: string, statements: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}
