// Goal: prove the migration runner against a real PostgreSQL — it applies migrations in
// lexical order, each exactly once (also with four runners racing), records name,
// checksum and time, refuses to start when an applied migration was edited or removed,
// and leaves no trace of a migration that fails.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type PostgresServer, startPostgres } from "@trustmesh/testkit";
import pg from "pg";
import { applyMigrations, migrationsTableName } from "../src/db/index.ts";

const fixture = join(import.meta.dirname, "fixtures", "ordered-migrations");
const fixtureNames = ["20250101000000_create_steps", "20250102000000_add_function", "20250110000000_use_function"];

describe("applyMigrations", function () {
  this.timeout(60_000);
  let postgres: PostgresServer;
  let scratch: string;
  let databaseCount = 0;

  before(async () => {
    postgres = await startPostgres();
    scratch = await mkdtemp(join(tmpdir(), "trustmesh-migrate-test-"));
  });

  after(async () => {
    await postgres?.stop();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  const freshDatabase = (): Promise<string> => postgres.createDatabase(`migrate_${++databaseCount}`);

  /** A private copy of the fixture that a test may edit. */
  const copyFixture = async (): Promise<string> => {
    const dir = join(scratch, `migrations_${++databaseCount}`);
    await cp(fixture, dir, { recursive: true });
    return dir;
  };

  const addMigration = async (dir: string, name: string, sql: string): Promise<void> => {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, "migration.sql"), sql);
  };

  const query = async <Row extends pg.QueryResultRow>(url: string, sql: string): Promise<Row[]> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<Row>(sql)).rows;
    } finally {
      await client.end();
    }
  };

  it("applies every migration in lexical order and records name, checksum and time", async () => {
    const url = await freshDatabase();
    const applied = await applyMigrations({ databaseUrl: url, migrationsDir: fixture });
    assert.deepEqual(
      applied.map((migration) => migration.name),
      fixtureNames,
    );

    const steps = await query<{ name: string }>(url, "SELECT name FROM steps ORDER BY id");
    assert.deepEqual(
      steps.map((step) => step.name),
      ["create_steps", "add_function", "use_function"],
    );

    const records = await query<{ name: string; checksum: string; applied_at: Date }>(
      url,
      `SELECT name, checksum, applied_at FROM "${migrationsTableName}" ORDER BY name`,
    );
    assert.deepEqual(
      records.map((record) => record.name),
      fixtureNames,
    );
    for (const record of records) {
      const bytes = await readFile(join(fixture, record.name, "migration.sql"));
      assert.equal(record.checksum, createHash("sha256").update(bytes).digest("hex"));
      assert.ok(record.applied_at instanceof Date);
    }
  });

  it("applies nothing the second time, and only new migrations later", async () => {
    const url = await freshDatabase();
    const dir = await copyFixture();
    assert.equal((await applyMigrations({ databaseUrl: url, migrationsDir: dir })).length, 3);
    assert.deepEqual(await applyMigrations({ databaseUrl: url, migrationsDir: dir }), []);

    await addMigration(dir, "20250111000000_more", `SELECT "record_step"('more');`);
    const later = await applyMigrations({ databaseUrl: url, migrationsDir: dir });
    assert.deepEqual(
      later.map((migration) => migration.name),
      ["20250111000000_more"],
    );
    const steps = await query<{ count: string }>(url, "SELECT count(*) FROM steps");
    assert.equal(steps[0]?.count, "4");
  });

  it("applies each migration once when four runners start at the same time", async () => {
    const url = await freshDatabase();
    const dir = await copyFixture();
    // A slow migration widens the window in which runners without a lock would collide.
    await addMigration(dir, "20250101000001_slow", `SELECT pg_sleep(0.3); SELECT "steps"."id" FROM "steps";`);
    const results = await Promise.all(Array.from({ length: 4 }, () => applyMigrations({ databaseUrl: url, migrationsDir: dir })));
    const appliedNames = results.flat().map((migration) => migration.name);
    assert.deepEqual(appliedNames.toSorted(), [...fixtureNames, "20250101000001_slow"].toSorted());
    // One runner did all the work; the others found nothing left.
    assert.deepEqual(results.map((result) => result.length).toSorted(), [0, 0, 0, 4]);
    const steps = await query<{ name: string }>(url, "SELECT name FROM steps ORDER BY id");
    assert.deepEqual(
      steps.map((step) => step.name),
      ["create_steps", "add_function", "use_function"],
    );
  });

  it("refuses to start when an applied migration was edited, before applying anything new", async () => {
    const url = await freshDatabase();
    const dir = await copyFixture();
    await applyMigrations({ databaseUrl: url, migrationsDir: dir });

    await writeFile(
      join(dir, "20250102000000_add_function", "migration.sql"),
      `${await readFile(join(dir, "20250102000000_add_function", "migration.sql"), "utf8")}\n-- edited\n`,
    );
    await addMigration(dir, "20250111000000_pending", 'CREATE TABLE "must_not_exist" (id int);');

    await assert.rejects(
      applyMigrations({ databaseUrl: url, migrationsDir: dir }),
      /refusing to migrate: migration 20250102000000_add_function was changed after it was applied/,
    );
    const pending = await query(url, `SELECT 1 FROM pg_class WHERE relname = 'must_not_exist'`);
    assert.equal(pending.length, 0);
  });

  it("refuses to start when an applied migration is missing", async () => {
    const url = await freshDatabase();
    const dir = await copyFixture();
    await applyMigrations({ databaseUrl: url, migrationsDir: dir });
    await rm(join(dir, "20250110000000_use_function"), { recursive: true });

    await assert.rejects(
      applyMigrations({ databaseUrl: url, migrationsDir: dir }),
      /migration 20250110000000_use_function was applied to the database but its folder is missing/,
    );
  });

  it("rolls back a failing migration and does not record it, so a fixed version applies later", async () => {
    const url = await freshDatabase();
    const dir = await copyFixture();
    await addMigration(dir, "20250120000000_broken", `CREATE TABLE "half_done" (id int);\nSELECT "record_step"('broken');\nSELECT 1 / 0;`);

    await assert.rejects(
      applyMigrations({ databaseUrl: url, migrationsDir: dir }),
      /migration 20250120000000_broken failed and was rolled back: division by zero/,
    );
    // The migrations before it stay applied; nothing of the broken one remains.
    const records = await query<{ name: string }>(url, `SELECT name FROM "${migrationsTableName}" ORDER BY name`);
    assert.deepEqual(
      records.map((record) => record.name),
      fixtureNames,
    );
    assert.equal((await query(url, `SELECT 1 FROM pg_class WHERE relname = 'half_done'`)).length, 0);
    assert.equal((await query(url, `SELECT 1 FROM steps WHERE name = 'broken'`)).length, 0);

    await writeFile(
      join(dir, "20250120000000_broken", "migration.sql"),
      `CREATE TABLE "half_done" (id int);\nSELECT "record_step"('fixed');`,
    );
    const applied = await applyMigrations({ databaseUrl: url, migrationsDir: dir });
    assert.deepEqual(
      applied.map((migration) => migration.name),
      ["20250120000000_broken"],
    );
  });

  it("stops waiting for the lock after lockTimeoutMs when another runner holds it", async () => {
    const url = await freshDatabase();
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtextextended('${migrationsTableName}:' || current_schema(), 0))`);
      await assert.rejects(
        applyMigrations({ databaseUrl: url, migrationsDir: fixture, lockTimeoutMs: 200 }),
        /could not take the migration lock within 200 ms/,
      );
    } finally {
      await holder.end();
    }
    // Once the holder is gone, the runner proceeds.
    assert.equal((await applyMigrations({ databaseUrl: url, migrationsDir: fixture })).length, 3);
  });

  it("rejects a migration folder without migration.sql", async () => {
    const url = await freshDatabase();
    const dir = await copyFixture();
    await mkdir(join(dir, "20250130000000_empty"));
    await assert.rejects(applyMigrations({ databaseUrl: url, migrationsDir: dir }), /20250130000000_empty has no readable migration.sql/);
  });
});
