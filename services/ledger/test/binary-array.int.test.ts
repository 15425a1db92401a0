// Goal: the batch write's binary uuid[] and timestamptz[] parameters reach
// PostgreSQL as exactly the values given (read back by a real server, nulls
// and empty arrays included), and a value that is not a UUID or an exact time
// is refused before anything is sent.
import assert from "node:assert/strict";
import { type PostgresServer, startPostgres } from "@trustmesh/testkit";
import pg from "pg";
import { timestampArray, uuidArray } from "../src/store/binary-array.ts";

describe("binary array parameters", function () {
  this.timeout(120_000);
  let server: PostgresServer;
  let client: pg.Client;

  before(async () => {
    server = await startPostgres();
    client = new pg.Client({ connectionString: await server.createDatabase("binary_array") });
    await client.connect();
    await client.query("SET TIME ZONE 'UTC'");
  });

  after(async () => {
    await client?.end();
    await server?.stop();
  });

  /** The parameter as PostgreSQL's text form of the array, and its element count (null for an empty array's missing dimension). */
  async function readBack(type: string, parameter: Buffer): Promise<{ text: string; length: number | null }> {
    const result = await client.query<{ text: string; length: number | null }>(
      `SELECT $1::${type}::text AS text, array_length($1::${type}, 1) AS length`,
      [parameter],
    );
    const row = result.rows[0];
    assert.ok(row !== undefined);
    return row;
  }

  it("sends UUIDs of either case, and nulls, as the same UUIDs", async () => {
    const values = [
      "0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4b",
      null,
      "FFFFFFFF-0000-7ABC-8DEF-0123456789AB",
      "00000000-0000-0000-0000-000000000000",
    ];
    assert.deepEqual(await readBack("uuid[]", uuidArray(values)), {
      text: "{0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4b,NULL,ffffffff-0000-7abc-8def-0123456789ab,00000000-0000-0000-0000-000000000000}",
      length: 4,
    });
  });

  it("sends times to the millisecond, before and after PostgreSQL's epoch, and nulls", async () => {
    const values = [new Date("2026-11-24T17:31:05.123Z"), null, new Date("1999-12-31T23:59:59.999Z"), new Date("1970-01-01T00:00:00.000Z")];
    assert.deepEqual(await readBack("timestamptz[]", timestampArray(values)), {
      text: '{"2026-11-24 17:31:05.123+00",NULL,"1999-12-31 23:59:59.999+00","1970-01-01 00:00:00+00"}',
      length: 4,
    });
  });

  it("sends empty arrays as empty arrays", async () => {
    assert.deepEqual(await readBack("uuid[]", uuidArray([])), { text: "{}", length: null });
    assert.deepEqual(await readBack("timestamptz[]", timestampArray([])), { text: "{}", length: null });
  });

  it("is refused by PostgreSQL as another element type", async () => {
    await assert.rejects(
      readBack("timestamptz[]", uuidArray(["0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4b"])),
      /element type 2950 \(uuid\) instead of expected 1184/,
    );
  });

  it("refuses anything but a UUID's 8-4-4-4-12 hex form", () => {
    for (const value of [
      "",
      "0b7c6a9e3f1d4c559a410f6f3c1d2e4b",
      "{0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4b}",
      "0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4",
      "0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4g",
      "0b7c6a9e-3f1d-4c55-9a4-10f6f3c1d2e4b",
      "0b-c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4b",
      "0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4\u00e9",
    ]) {
      assert.throws(() => uuidArray(["0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4b", value]), /is not a UUID/, value);
    }
  });

  it("refuses a time it cannot send exactly", () => {
    assert.throws(() => timestampArray([new Date(Number.NaN)]), /cannot be sent as an exact timestamp/);
    assert.throws(() => timestampArray([new Date(8.64e15)]), /cannot be sent as an exact timestamp/);
  });
});
