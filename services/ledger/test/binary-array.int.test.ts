// Goal: the batch write's binary array parameters (uuid, timestamptz, int8,
// int4, numeric, text, bytea) reach PostgreSQL as exactly the values given
// (read back by a real server, nulls and empty arrays included), and a value
// that cannot be sent exactly is refused before anything is sent.
import assert from "node:assert/strict";
import { type PostgresServer, startPostgres } from "@trustmesh/testkit";
import pg from "pg";
import { byteaArray, int4Array, int8Array, numericArray, textArray, timestampArray, uuidArray } from "../src/store/binary-array.ts";

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
    for (const [type, parameter] of [
      ["int8[]", int8Array([])],
      ["int4[]", int4Array([])],
      ["numeric[]", numericArray([])],
      ["text[]", textArray([])],
      ["bytea[]", byteaArray([])],
    ] as const) {
      assert.deepEqual(await readBack(type, parameter), { text: "{}", length: null }, type);
    }
  });

  it("sends 64- and 32-bit integers to their limits", async () => {
    assert.deepEqual(await readBack("int8[]", int8Array([0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 4_294_967_296n])), {
      text: "{0,-1,9223372036854775807,-9223372036854775808,4294967296}",
      length: 5,
    });
    assert.deepEqual(await readBack("int4[]", int4Array([0, 31, -1, 2 ** 31 - 1, -(2 ** 31)])), {
      text: "{0,31,-1,2147483647,-2147483648}",
      length: 5,
    });
  });

  it("sends integers of any size as numerics, whatever their count of digits", async () => {
    // Every length from 1 to 12 digits crosses the four-digit groups' edges; then 2^64 + 1, ETH-sized and 78-digit values.
    const values = [0n, ...Array.from({ length: 12 }, (_, index) => 10n ** BigInt(index) + 7n), 9999n, 10_000n, 10_001n];
    values.push(2n ** 64n + 1n, 123_456_789_012_345_678_901_234_567n, 10n ** 77n + 1n, -(10n ** 77n), -42n, -10_000n);
    const { text, length } = await readBack("numeric[]", numericArray(values));
    assert.equal(length, values.length);
    assert.equal(text, `{${values.join(",")}}`);
    // As the ledger's columns hold them: NUMERIC(78,0) takes the largest and refuses nothing it should hold.
    const cast = await client.query<{ text: string }>("SELECT $1::numeric(78,0)[]::text AS text", [numericArray(values)]);
    assert.equal(cast.rows[0]?.text, `{${values.join(",")}}`);
  });

  it("sends texts as their UTF-8 bytes, empty texts and nulls included", async () => {
    const values = ["payment:7f3c:reserve", "", null, 'quote " back\\slash {brace}, comma', "naïve — 雪 😀", "NULL"];
    const result = await client.query<{ values: (string | null)[] }>("SELECT $1::text[] AS values", [textArray(values)]);
    assert.deepEqual(result.rows[0]?.values, values);
  });

  it("sends bytes as they are", async () => {
    const values = [Buffer.alloc(32, 0xab), Buffer.from([0, 1, 2, 0x5c, 0x22, 0xff]), Buffer.alloc(0)];
    const result = await client.query<{ values: Buffer[] }>("SELECT $1::bytea[] AS values", [byteaArray(values)]);
    assert.deepEqual(result.rows[0]?.values, values);
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

  it("is refused by PostgreSQL when a text holds U+0000, which it cannot store", async () => {
    await assert.rejects(readBack("text[]", textArray(["a\u0000b"])), /invalid byte sequence for encoding "UTF8": 0x00/);
  });

  it("refuses integers outside their type's range", () => {
    assert.throws(() => int8Array([2n ** 63n]), RangeError);
    assert.throws(() => int4Array([2 ** 31]), RangeError);
    assert.throws(() => int4Array([1.5]), RangeError);
  });

  it("refuses a time it cannot send exactly", () => {
    assert.throws(() => timestampArray([new Date(Number.NaN)]), /cannot be sent as an exact timestamp/);
    assert.throws(() => timestampArray([new Date(8.64e15)]), /cannot be sent as an exact timestamp/);
  });
});
