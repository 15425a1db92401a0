// Goal: prove the whole data path offline — `prisma generate` (Prisma 7, prisma-client
// generator, no engine download) builds a client for the fixture schema, and
// createPrismaClient runs it over @prisma/adapter-pg against a real PostgreSQL migrated
// by our runner: writes and reads back a NUMERIC(78,0) amount, an enum, a list, JSON,
// a relation, and sees a unique violation as Prisma's P2002.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdtemp, rm, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { type PostgresServer, startPostgres } from "@trustmesh/testkit";
import { applyMigrations, createPrismaClient } from "../src/db/index.ts";

const fixture = join(import.meta.dirname, "fixtures", "ledger-schema", "prisma");
const run = promisify(execFile);

// The generated client is loosely typed here: it is produced at test time.
type Row = Record<string, unknown>;
type Delegate = {
  create: (args: Row) => Promise<Row>;
  findUniqueOrThrow: (args: Row) => Promise<Row>;
};
type FixtureClient = { account: Delegate; entry: Delegate; $disconnect: () => Promise<void> };

describe("createPrismaClient with a generated Prisma 7 client", function () {
  this.timeout(120_000);
  let postgres: PostgresServer;
  let scratch: string;
  let prisma: FixtureClient;

  before(async () => {
    postgres = await startPostgres();
    scratch = await mkdtemp(join(tmpdir(), "trustmesh-prisma-client-"));
    // The generated code imports @prisma/client/runtime; a node_modules link beside it
    // lets Node resolve that from the scratch folder.
    const repoNodeModules = join(dirname(createRequire(import.meta.url).resolve("prisma/package.json")), "..");
    await symlink(repoNodeModules, join(scratch, "node_modules"), "dir");
    // The schema says `output = "../generated"`, so the client lands in <scratch>/generated.
    await cp(fixture, join(scratch, "prisma"), { recursive: true });
    const prismaCli = join(dirname(createRequire(import.meta.url).resolve("prisma/package.json")), "build", "index.js");
    await run(process.execPath, [prismaCli, "generate", "--schema", join(scratch, "prisma", "schema.prisma")], {
      cwd: scratch,
      env: {
        ...process.env,
        // generate checks for a schema-engine binary and would download one; it never runs it.
        PRISMA_SCHEMA_ENGINE_BINARY: "/bin/true",
        CHECKPOINT_DISABLE: "1",
        PRISMA_HIDE_UPDATE_MESSAGE: "1",
      },
      timeout: 60_000,
    });

    const databaseUrl = await postgres.createDatabase("prisma_client");
    await applyMigrations({ databaseUrl, migrationsDir: join(fixture, "migrations") });
    const generated = (await import(pathToFileURL(join(scratch, "generated", "client.ts")).href)) as {
      PrismaClient: new (options: { adapter: unknown }) => FixtureClient;
    };
    prisma = createPrismaClient(generated.PrismaClient, { databaseUrl, poolMax: 2 });
  });

  after(async () => {
    await prisma?.$disconnect();
    await postgres?.stop();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it("writes and reads a row with a 78-digit amount, an enum, a list and a relation", async () => {
    // The largest NUMERIC(78,0) magnitude: more than a uint256, so an ETH amount in wei always fits.
    const hugeAmountMinor = "9".repeat(78);
    const account = await prisma.account.create({
      data: {
        ownerId: "00000000-0000-4000-8000-000000000001",
        currency: "ETH",
        balanceMinor: hugeAmountMinor,
        tags: ["hot", "primary"],
      },
    });
    assert.match(String(account.id), /^[0-9a-f-]{36}$/);
    assert.equal(account.status, "ACTIVE");

    await prisma.entry.create({
      data: {
        accountId: account.id,
        amountMinor: `-${hugeAmountMinor}`,
        idempotencyKey: "entry-1",
        metadata: { reason: "test" },
      },
    });

    const read = await prisma.account.findUniqueOrThrow({ where: { id: account.id }, include: { entries: true } });
    assert.equal((read.balanceMinor as { toFixed: () => string }).toFixed(), hugeAmountMinor);
    assert.deepEqual(read.tags, ["hot", "primary"]);
    assert.ok(read.createdAt instanceof Date);
    const [entry, ...others] = read.entries as Row[];
    assert.ok(entry !== undefined && others.length === 0);
    assert.equal((entry.amountMinor as { toFixed: () => string }).toFixed(), `-${hugeAmountMinor}`);
    assert.equal(typeof entry.seq, "bigint");
    assert.deepEqual(entry.metadata, { reason: "test" });
  });

  it("reports a unique violation as P2002", async () => {
    const account = await prisma.account.create({
      data: { ownerId: "00000000-0000-4000-8000-000000000002", currency: "USD" },
    });
    const entry = { accountId: account.id, amountMinor: "100", idempotencyKey: "same-key" };
    await prisma.entry.create({ data: entry });
    await assert.rejects(prisma.entry.create({ data: entry }), (error: { code?: string }) => {
      assert.equal(error.code, "P2002");
      return true;
    });
  });
});
