// Goal: for every service, its schema.prisma and its migrations describe the
// same database (DESIGN.md §4). Prisma Migrate's schema engine cannot be
// downloaded here, so the migrations are applied by the runtime's runner to a
// fresh database and the runtime's schema check compares the result with the
// schema; any drift — a model without a migration, a column of another type —
// fails here. Applying them twice must change nothing.
import assert from "node:assert/strict";
import { join } from "node:path";
import { applyMigrations, checkSchemaMatchesDatabase } from "@trustmesh/runtime/db";
import { allServiceNames, type PostgresServer, startPostgres } from "@trustmesh/testkit";

const servicesDir = join(import.meta.dirname, "..", "..", "services");

describe("service schemas and migrations agree", function () {
  this.timeout(120_000);
  let postgres: PostgresServer;

  before(async () => {
    postgres = await startPostgres();
  });

  after(async () => {
    await postgres?.stop();
  });

  for (const name of allServiceNames) {
    it(`${name}: migrations applied to an empty database match schema.prisma, and re-applying is a no-op`, async () => {
      const databaseUrl = await postgres.createDatabase(`schema_${name.replace("-", "_")}`);
      const migrationsDir = join(servicesDir, name, "prisma", "migrations");
      const applied = await applyMigrations({ databaseUrl, migrationsDir });
      assert.ok(applied.length > 0, "the service has at least its initial migration");
      assert.deepEqual(
        await checkSchemaMatchesDatabase({ schemaPath: join(servicesDir, name, "prisma", "schema.prisma"), databaseUrl }),
        [],
      );
      assert.deepEqual(await applyMigrations({ databaseUrl, migrationsDir }), []);
    });
  }
});
