// Goal: prove against a real PostgreSQL that CallbackFormClient, which runs pg's
// promise-form queries through the callback form (db/callback-form-client.ts),
// answers exactly as pg.Client does: the same results and the same errors, the
// callback form and submittables passed through untouched, and pipeline mode's
// order kept; and that createServicePool (db/pool.ts) makes its connections so.
// What it is for — queries that die young — is measured by
// bench/ledger (full collections per window), not here.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type PostgresServer, startPostgres } from "@trustmesh/testkit";
import pg from "pg";
import { CallbackFormClient, createLogger, createServicePool } from "../src/index.ts";

describe("CallbackFormClient", function () {
  this.timeout(60_000);
  let postgres: PostgresServer;
  let databaseUrl: string;
  let plain: pg.Client;
  let client: CallbackFormClient;

  before(async () => {
    postgres = await startPostgres();
    databaseUrl = await postgres.createDatabase("callback_form");
    plain = new pg.Client({ connectionString: databaseUrl });
    client = new CallbackFormClient({ connectionString: databaseUrl });
    await Promise.all([plain.connect(), client.connect()]);
  });

  after(async () => {
    await Promise.all([plain?.end(), client?.end()]);
    await postgres?.stop();
  });

  it("answers every promise-form call as pg.Client does", async () => {
    const calls: ((queryable: pg.Client) => Promise<pg.QueryResult>)[] = [
      (queryable) => queryable.query("SELECT 1 AS one"),
      (queryable) => queryable.query("SELECT $1::int + $2::int AS sum", [2, 3]),
      (queryable) => queryable.query({ text: "SELECT $1::text AS echoed", values: ["käse"] }),
      (queryable) => queryable.query({ name: "named_series", text: "SELECT generate_series(1, $1::int) AS n", values: [3] }),
      (queryable) => queryable.query({ text: "SELECT 1 AS a, 2 AS b", rowMode: "array" }),
    ];
    for (const call of calls) {
      const [expected, actual] = await Promise.all([call(plain), call(client)]);
      assert.deepEqual(actual.rows, expected.rows);
      assert.equal(actual.command, expected.command);
      assert.equal(actual.rowCount, expected.rowCount);
      assert.deepEqual(
        actual.fields.map((field) => field.name),
        expected.fields.map((field) => field.name),
      );
    }
  });

  it("rejects with PostgreSQL's error, and the connection stays usable", async () => {
    await assert.rejects(client.query("SELECT * FROM no_such_table"), (error: pg.DatabaseError) => {
      assert.ok(error instanceof pg.DatabaseError);
      assert.equal(error.code, "42P01");
      return true;
    });
    await assert.rejects(client.query("SELECT $1::int", ["not a number"]), { code: "22P02" });
    // As with pg's promise form, the stack leads back here, not only to the socket read.
    const failure = await client.query("SELECT 1/0").catch((error: Error) => error);
    assert.match(String((failure as Error).stack), /db-callback-form-client\.int\.test\.ts/);
    assert.deepEqual((await client.query("SELECT 2 AS two")).rows, [{ two: 2 }]);
  });

  it("passes the callback form and submittables through to pg", async () => {
    const viaCallback = await new Promise<pg.QueryResult>((resolve, reject) => {
      const returned = client.query("SELECT 3 AS three", (error: Error | null, result: pg.QueryResult) =>
        error ? reject(error) : resolve(result),
      );
      assert.equal(returned, undefined);
    });
    assert.deepEqual(viaCallback.rows, [{ three: 3 }]);

    const viaConfigCallback = await new Promise<pg.QueryResult>((resolve, reject) => {
      const config = {
        text: "SELECT 5 AS five",
        callback: (error: Error | null, result: pg.QueryResult) => (error ? reject(error) : resolve(result)),
      };
      assert.equal(client.query(config as pg.QueryConfig), undefined);
    });
    assert.deepEqual(viaConfigCallback.rows, [{ five: 5 }]);

    const submittable = new pg.Query("SELECT 4 AS four");
    const rows: unknown[] = [];
    submittable.on("row", (row) => rows.push(row));
    assert.equal(client.query(submittable), submittable);
    await new Promise((resolve, reject) => submittable.on("end", resolve).on("error", reject));
    assert.deepEqual(rows, [{ four: 4 }]);
  });

  it("createServicePool makes CallbackFormClient connections with the service defaults, and takes overrides", async () => {
    const logger = createLogger({ name: "pool-test", level: "silent" });
    const pool = createServicePool({ connectionString: databaseUrl, max: 1, lock_timeout: 1234 }, logger, "test");
    try {
      const pooled = await pool.connect();
      try {
        assert.ok(pooled instanceof CallbackFormClient);
        const { rows } = await pooled.query<{ statement: string; lock: string }>(
          "SELECT current_setting('statement_timeout') AS statement, current_setting('lock_timeout') AS lock",
        );
        assert.deepEqual(rows, [{ statement: "30s", lock: "1234ms" }]);
      } finally {
        pooled.release();
      }
      // An idle connection's failure is logged, not thrown at the process.
      assert.equal(pool.listenerCount("error"), 1);
    } finally {
      const removed = once(pool, "remove");
      await pool.end();
      await removed;
    }
  });

  it("keeps pipeline mode's order: queries sent together get their own answers", async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, pipeline: true, Client: CallbackFormClient });
    try {
      const pooled = await pool.connect();
      try {
        assert.ok(pooled instanceof CallbackFormClient, "pg-pool makes its clients with the Client option");
        const answers = await Promise.all(Array.from({ length: 50 }, (_, index) => pooled.query("SELECT $1::int AS sent", [index])));
        assert.deepEqual(
          answers.map((answer) => answer.rows[0]?.sent),
          Array.from({ length: 50 }, (_, index) => index),
        );
        // One refused statement in the pipeline fails alone.
        const [before, refused, after] = await Promise.allSettled([
          pooled.query("SELECT 1 AS n"),
          pooled.query("SELECT 1/0"),
          pooled.query("SELECT 3 AS n"),
        ]);
        assert.equal(before.status, "fulfilled");
        assert.equal(refused.status === "rejected" && (refused.reason as pg.DatabaseError).code, "22012");
        assert.deepEqual(after.status === "fulfilled" && after.value.rows, [{ n: 3 }]);
      } finally {
        pooled.release();
      }
    } finally {
      // pool.end() resolves before its clients' sockets have closed; "remove" comes once one has.
      const removed = once(pool, "remove");
      await pool.end();
      await removed;
    }
  });
});
