// Goal: prove that checkSchemaMatchesDatabase finds where a schema.prisma and the
// database its migrations built disagree — a missing column, a wrong type, a nullability
// mismatch, an extra table and more — and finds nothing when they agree, using real
// PostgreSQL and Prisma's own schema parser (no schema engine).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type PostgresServer, startPostgres } from "@trustmesh/testkit";
import pg from "pg";
import { applyMigrations, checkSchemaMatchesDatabase } from "../src/db/index.ts";

const fixture = join(import.meta.dirname, "fixtures", "ledger-schema", "prisma");
const schemaPath = join(fixture, "schema.prisma");
const migrationsDir = join(fixture, "migrations");

describe("checkSchemaMatchesDatabase", function () {
  this.timeout(60_000);
  let postgres: PostgresServer;
  let databaseCount = 0;

  before(async () => {
    postgres = await startPostgres();
  });

  after(async () => {
    await postgres?.stop();
  });

  /** A fresh database with the fixture's migrations applied, then `drift` run on it. */
  const migratedDatabase = async (drift?: string): Promise<string> => {
    const url = await postgres.createDatabase(`schema_check_${++databaseCount}`);
    await applyMigrations({ databaseUrl: url, migrationsDir });
    if (drift !== undefined) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(drift);
      } finally {
        await client.end();
      }
    }
    return url;
  };

  it("finds no difference between the fixture schema and its migrations", async () => {
    const databaseUrl = await migratedDatabase();
    assert.deepEqual(await checkSchemaMatchesDatabase({ schemaPath, databaseUrl }), []);
  });

  it("accepts a folder of .prisma files as the schema", async () => {
    const databaseUrl = await migratedDatabase();
    assert.deepEqual(await checkSchemaMatchesDatabase({ schemaPath: fixture, databaseUrl }), []);
  });

  const cases: Array<{ what: string; drift: string; expected: string[] }> = [
    {
      what: "a missing column",
      drift: 'ALTER TABLE "entries" DROP COLUMN "memo"',
      expected: ["Entry.memo (column entries.memo): column is missing from the database"],
    },
    {
      what: "a wrong type",
      drift: 'ALTER TABLE "accounts" ALTER COLUMN "balance_minor" TYPE NUMERIC(65,30)',
      expected: ["Account.balanceMinor (column accounts.balance_minor): schema says numeric(78,0), database has numeric(65,30)"],
    },
    {
      what: "a wrong native type (timestamp without time zone)",
      drift: 'ALTER TABLE "entries" ALTER COLUMN "posted_at" TYPE TIMESTAMP(3)',
      expected: [
        "Entry.postedAt (column entries.posted_at): schema says timestamp(3) with time zone, database has timestamp(3) without time zone",
      ],
    },
    {
      what: "a text column where the schema says uuid",
      drift:
        'ALTER TABLE "entries" DROP CONSTRAINT "entries_account_id_fkey"; ALTER TABLE "entries" ALTER COLUMN "account_id" TYPE TEXT; ALTER TABLE "accounts" ALTER COLUMN "id" TYPE TEXT; ALTER TABLE "entries" ADD CONSTRAINT "entries_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE',
      expected: [
        "Account.id (column accounts.id): schema says uuid, database has text",
        "Entry.accountId (column entries.account_id): schema says uuid, database has text",
      ],
    },
    {
      what: "an optional field whose column is NOT NULL",
      drift: 'ALTER TABLE "accounts" ALTER COLUMN "label" SET NOT NULL',
      expected: ["Account.label (column accounts.label): schema says optional (String?), database column is NOT NULL"],
    },
    {
      what: "a required field whose column is nullable",
      drift: 'ALTER TABLE "accounts" ALTER COLUMN "currency" DROP NOT NULL',
      expected: ["Account.currency (column accounts.currency): schema says required (String), database column is nullable"],
    },
    {
      what: "an extra table",
      drift: 'CREATE TABLE "audit_log" ("id" INTEGER PRIMARY KEY)',
      expected: ["table audit_log exists in the database but no model maps to it"],
    },
    {
      what: "an extra column",
      drift: 'ALTER TABLE "accounts" ADD COLUMN "nickname" TEXT',
      expected: ["column accounts.nickname exists in the database but no field maps to it"],
    },
    {
      what: "a missing unique index",
      drift: 'DROP INDEX "entries_idempotency_key_key"',
      expected: ["unique index on Entry (idempotency_key): missing from the database"],
    },
    {
      what: "a unique index the schema does not declare",
      drift: 'CREATE UNIQUE INDEX "accounts_label_key" ON "accounts"("label")',
      expected: ["unique index accounts_label_key on accounts (label) exists in the database but not in the schema"],
    },
    {
      what: "an index with the wrong sort order",
      drift: 'DROP INDEX "entries_account_id_seq_idx"; CREATE INDEX "entries_account_id_seq_idx" ON "entries"("account_id", "seq")',
      expected: ["index on Entry (account_id, seq): sort order differs from database index entries_account_id_seq_idx"],
    },
    {
      what: "a different primary key",
      drift: 'ALTER TABLE "entries" DROP CONSTRAINT "entries_pkey"; ALTER TABLE "entries" ADD PRIMARY KEY ("seq", "account_id")',
      expected: [
        "primary key of Entry (seq): the database's primary key is (seq, account_id)",
        "primary key entries_pkey on entries (seq, account_id) exists in the database but not in the schema",
      ],
    },
    {
      what: "a foreign key with another delete action",
      drift:
        'ALTER TABLE "entries" DROP CONSTRAINT "entries_account_id_fkey"; ALTER TABLE "entries" ADD CONSTRAINT "entries_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE',
      expected: [
        "relation Entry.account: foreign key entries (account_id) → accounts (id): schema says onDelete Restrict, database entries_account_id_fkey differs",
      ],
    },
    {
      what: "a missing foreign key",
      drift: 'ALTER TABLE "entries" DROP CONSTRAINT "entries_account_id_fkey"',
      expected: ["relation Entry.account: foreign key entries (account_id) → accounts (id) is missing from the database"],
    },
    {
      what: "an enum with another set of values",
      drift: `ALTER TYPE "account_status" ADD VALUE 'CLOSED'`,
      expected: ["enum AccountStatus: schema has values [ACTIVE, FROZEN], database type account_status has [ACTIVE, FROZEN, CLOSED]"],
    },
    {
      what: "a default the database lacks",
      drift: 'ALTER TABLE "entries" ALTER COLUMN "posted_at" DROP DEFAULT',
      expected: ["Entry.postedAt (column entries.posted_at): schema gives a default the database must supply, but the column has none"],
    },
  ];

  for (const { what, drift, expected } of cases) {
    it(`reports ${what}`, async () => {
      const databaseUrl = await migratedDatabase(drift);
      assert.deepEqual((await checkSchemaMatchesDatabase({ schemaPath, databaseUrl })).toSorted(), expected.toSorted());
    });
  }

  it("agrees on every Postgres native type and default Prisma maps", async () => {
    // Each column written the way Prisma Migrate renders the field beside it.
    const schema = `datasource db {
  provider = "postgresql"
}

model Everything {
  id         Int      @id @default(autoincrement())
  text       String   @db.Text
  char       String   @db.Char(3)
  varchar    String   @db.VarChar(40)
  varcharAny String   @db.VarChar
  bit        String   @db.Bit(4)
  varbit     String   @db.VarBit(8)
  uuid       String   @db.Uuid
  xml        String   @db.Xml
  inet       String   @db.Inet
  small      Int      @db.SmallInt
  big        BigInt
  oid        Int      @db.Oid
  real       Float    @db.Real
  double     Float
  decimal    Decimal
  money      Decimal  @db.Money
  timestamp  DateTime
  timestamp6 DateTime @db.Timestamp(6)
  timestampz DateTime @db.Timestamptz
  date       DateTime @db.Date
  time       DateTime @db.Time(0)
  timetz     DateTime @db.Timetz(3)
  json       Json     @db.Json
  jsonb      Json     @default("{}")
  bytes      Bytes
  flag       Boolean  @default(false)
  ints       Int[]
  stamps     DateTime[] @db.Timestamptz(3)
  external   String   @default(dbgenerated("gen_random_uuid()")) @db.Uuid
  shadow     Unsupported("tsvector")?
}
`;
    const migration = `CREATE TABLE "Everything" (
    "id" SERIAL NOT NULL, "text" TEXT NOT NULL, "char" CHAR(3) NOT NULL, "varchar" VARCHAR(40) NOT NULL,
    "varcharAny" VARCHAR NOT NULL, "bit" BIT(4) NOT NULL, "varbit" VARBIT(8) NOT NULL, "uuid" UUID NOT NULL,
    "xml" XML NOT NULL, "inet" INET NOT NULL, "small" SMALLINT NOT NULL, "big" BIGINT NOT NULL, "oid" OID NOT NULL,
    "real" REAL NOT NULL, "double" DOUBLE PRECISION NOT NULL, "decimal" DECIMAL(65,30) NOT NULL, "money" MONEY NOT NULL,
    "timestamp" TIMESTAMP(3) NOT NULL, "timestamp6" TIMESTAMP(6) NOT NULL, "timestampz" TIMESTAMPTZ NOT NULL,
    "date" DATE NOT NULL, "time" TIME(0) NOT NULL, "timetz" TIMETZ(3) NOT NULL, "json" JSON NOT NULL,
    "jsonb" JSONB NOT NULL DEFAULT '{}', "bytes" BYTEA NOT NULL, "flag" BOOLEAN NOT NULL DEFAULT false,
    "ints" INTEGER[], "stamps" TIMESTAMPTZ(3)[], "external" UUID NOT NULL DEFAULT gen_random_uuid(), "shadow" tsvector,
    CONSTRAINT "Everything_pkey" PRIMARY KEY ("id")
);`;
    const scratch = await mkdtemp(join(tmpdir(), "trustmesh-schema-check-"));
    try {
      await writeFile(join(scratch, "schema.prisma"), schema);
      await mkdir(join(scratch, "migrations", "20250101000000_everything"), { recursive: true });
      await writeFile(join(scratch, "migrations", "20250101000000_everything", "migration.sql"), migration);
      const databaseUrl = await postgres.createDatabase(`schema_check_${++databaseCount}`);
      await applyMigrations({ databaseUrl, migrationsDir: join(scratch, "migrations") });
      assert.deepEqual(await checkSchemaMatchesDatabase({ schemaPath: join(scratch, "schema.prisma"), databaseUrl }), []);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it("reports a model whose table no migration creates", async () => {
    const databaseUrl = await migratedDatabase();
    const scratch = await mkdtemp(join(tmpdir(), "trustmesh-schema-check-"));
    try {
      const extended = join(scratch, "schema.prisma");
      await writeFile(extended, `${await readFile(schemaPath, "utf8")}\nmodel Payout {\n  id Int @id\n\n  @@map("payouts")\n}\n`);
      assert.deepEqual(await checkSchemaMatchesDatabase({ schemaPath: extended, databaseUrl }), [
        "model Payout: table payouts is missing from the database",
      ]);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it("throws a readable error for a schema that does not parse", async () => {
    const databaseUrl = await migratedDatabase();
    const scratch = await mkdtemp(join(tmpdir(), "trustmesh-schema-check-"));
    try {
      const broken = join(scratch, "schema.prisma");
      await writeFile(broken, 'datasource db {\n  provider = "postgresql"\n}\n\nmodel Broken {\n  id Intt @id\n}\n');
      await assert.rejects(checkSchemaMatchesDatabase({ schemaPath: broken, databaseUrl }), (error: Error) => {
        assert.match(error.message, /cannot parse the Prisma schema .*schema\.prisma/);
        assert.match(error.message, /Intt/);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: checks colour codes are gone.
        assert.doesNotMatch(error.message, /\u001b\[/);
        return true;
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
