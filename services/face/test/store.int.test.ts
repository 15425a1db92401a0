// Goal: on real Postgres, with a generated set of records spread over 35 days
// (so some have expired), the store's reads are exactly right — history newest
// first through every page, the latest attempt per registration, stats, the
// recent check, the event list with its filters — and expired records are
// invisible at once and gone after the sweeper runs. The event list is served
// through its index (EXPLAIN on a large table shows no sequential scan).
// Attempts are numbered without gaps under concurrency, idempotency keys
// replay, and erasure removes everything of one person and nothing else.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createLogger, createMetrics } from "@trustmesh/runtime";
import { applyMigrations } from "@trustmesh/runtime/db";
import { type PostgresServer, startPostgres } from "@trustmesh/testkit";
import pg from "pg";
import { createFaceMetrics } from "../src/face-metrics.ts";
import { createFaceStore, type EventValidationsQuery, type FaceStore, type FaceValidation } from "../src/store.ts";
import { startSweeper } from "../src/sweeper.ts";
import { dayMs, idempotencyFor, type Outcome, type RecordShape, referenceFor, validationFor } from "./support/records.ts";

const migrationsDir = new URL("../prisma/migrations", import.meta.url).pathname;
const outcomes: Outcome[] = ["success", "no_match", "success", "low_quality", "no_face", "success", "multiple_faces", "spoof_suspected"];
const grades = ["high", "medium", "low"] as const;

/** 60 attempts, one every 14 hours up to now: the oldest 8 are past the 30-day expiry. */
function generate(now: Date, users: [string, string]): RecordShape[] {
  return Array.from({ length: 60 }, (_, index) => {
    const outcome = outcomes[index % outcomes.length] as Outcome;
    const compared = outcome === "success" || outcome === "no_match" || outcome === "spoof_suspected";
    const graded = outcome !== "no_face" && outcome !== "multiple_faces";
    return {
      userId: users[index % 3 === 2 ? 1 : 0],
      registrationId: `reg-${index % 4}`,
      eventId: index % 4 < 2 ? "event-1" : "event-2",
      createdAt: new Date(now.getTime() - (60 - index) * 14 * 60 * 60_000),
      outcome,
      quality: graded ? grades[index % 3] : undefined,
      similarity: compared ? (outcome === "no_match" ? 40 + (index % 30) : 80 + (index % 20)) : undefined,
      confidence: compared ? undefined : graded ? 90 : 0,
    };
  });
}

const newestFirst = (first: FaceValidation, second: FaceValidation) =>
  second.createdAt.getTime() - first.createdAt.getTime() || (second.id < first.id ? -1 : 1);

describe("face store", function () {
  this.timeout(120_000);
  let postgres: PostgresServer;
  let pool: pg.Pool;
  let store: FaceStore;
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const users: [string, string] = [randomUUID(), randomUUID()];
  let all: FaceValidation[] = [];
  let live: FaceValidation[] = [];

  before(async () => {
    postgres = await startPostgres();
    const databaseUrl = await postgres.createDatabase("face_store");
    await applyMigrations({ databaseUrl, migrationsDir });
    pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
    // Idle connections see the server stop at the end; that is no test failure.
    pool.on("error", () => {});
    store = createFaceStore(pool);
    for (const userId of users) await store.saveReference(referenceFor(userId), idempotencyFor(userId), () => new Uint8Array([1]));
    for (const shape of generate(now, users)) {
      const stored = await store.recordValidation(validationFor(shape), undefined, () => new Uint8Array());
      assert.equal(stored.kind, "done");
      if (stored.kind === "done") all.push(stored.value);
    }
    all = all.sort(newestFirst);
    live = all.filter((record) => record.expiresAt > now);
    assert.ok(live.length > 40 && live.length < all.length, `some records expired: ${live.length} of ${all.length}`);
  });

  after(async () => {
    await store?.close();
    await pool?.end();
    await postgres?.stop();
  });

  it("numbers attempts per user and registration from 1 in the order they were made", () => {
    const byKey = new Map<string, FaceValidation[]>();
    for (const record of [...all].reverse())
      byKey.set(`${record.userId}/${record.registrationId}`, [...(byKey.get(`${record.userId}/${record.registrationId}`) ?? []), record]);
    for (const records of byKey.values())
      assert.deepEqual(
        records.map((record) => record.attempt),
        records.map((_, index) => index + 1),
      );
  });

  it("pages through a user's unexpired history newest first, each record once, at any page size", async () => {
    const [user] = users;
    const expected = live.filter((record) => record.userId === user).map((record) => record.id);
    for (const limit of [1, 7, 10, 100]) {
      const seen: string[] = [];
      let after: { createdAt: Date; id: string } | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await store.validationHistory(user, now, after, limit);
        assert.ok(page.length <= limit);
        seen.push(...page.map((record) => record.id));
        const last = page[page.length - 1];
        if (page.length < limit || !last) break;
        after = { createdAt: last.createdAt, id: last.id };
      }
      assert.deepEqual(seen, expected, `page size ${limit}`);
    }
  });

  it("returns the latest unexpired attempt of a registration, and nothing once all have expired", async () => {
    const [user] = users;
    const latest = await store.latestValidation(user, "reg-0", now);
    const expected = live
      .filter((record) => record.userId === user && record.registrationId === "reg-0")
      .sort((a, b) => b.attempt - a.attempt)[0];
    assert.equal(latest?.id, expected?.id);
    assert.equal(await store.latestValidation(user, "reg-0", new Date(now.getTime() + 31 * dayMs)), undefined);
    assert.equal(await store.latestValidation(user, "no-such-registration", now), undefined);
  });

  it("summarises a user's unexpired attempts", async () => {
    const [, user] = users;
    const mine = live.filter((record) => record.userId === user);
    const compared = mine.filter((record) => record.similarity !== null);
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const stats = await store.validationStats(user, now);
    assert.equal(stats.total, mine.length);
    assert.equal(stats.successes, mine.filter((record) => record.status === "success").length);
    assert.equal(stats.failures, mine.filter((record) => record.status === "failed").length);
    assert.ok(Math.abs(stats.averageConfidence - mean(mine.map((record) => record.confidence))) < 1e-3);
    assert.ok(Math.abs(stats.averageSimilarity - mean(compared.map((record) => record.similarity ?? 0))) < 1e-3);
    assert.deepEqual(
      [stats.high, stats.medium, stats.low, stats.ungraded],
      ["high", "medium", "low", null].map((grade) => mine.filter((record) => record.quality === grade).length),
    );
    assert.equal(stats.firstAt?.getTime(), mine[mine.length - 1]?.createdAt.getTime());
    assert.equal(stats.lastAt?.getTime(), mine[0]?.createdAt.getTime());
    assert.equal(stats.lastSuccessAt?.getTime(), mine.find((record) => record.status === "success")?.createdAt.getTime());
    const nobody = await store.validationStats(randomUUID(), now);
    assert.deepEqual([nobody.total, nobody.averageConfidence, nobody.firstAt, nobody.lastSuccessAt], [0, 0, null, null]);
  });

  it("finds the newest success within a look-back window, and none in a window without one", async () => {
    const [user] = users;
    const successes = live.filter((record) => record.userId === user && record.status === "success");
    const newest = successes[0];
    assert.ok(newest);
    assert.equal((await store.latestSuccess(user, new Date(now.getTime() - 30 * dayMs), now))?.id, newest.id);
    // A window that starts just after the newest success holds none.
    assert.equal(await store.latestSuccess(user, new Date(newest.createdAt.getTime() + 1), now), undefined);
  });

  it("lists an event's attempts newest first, filtered by status or to the latest attempt per registration", async () => {
    const list = async (query: Omit<EventValidationsQuery, "now" | "limit">) => {
      const ids: string[] = [];
      let after: EventValidationsQuery["after"];
      for (let pages = 0; pages < 100; pages++) {
        const page = await store.eventValidations({ ...query, after, limit: 4, now });
        ids.push(...page.map((record) => record.id));
        const last = page[page.length - 1];
        if (page.length < 4 || !last) break;
        after = { createdAt: last.createdAt, id: last.id };
      }
      return ids;
    };
    const ofEvent = live.filter((record) => record.eventId === "event-1");
    const isLatest = (record: FaceValidation) =>
      !all.some(
        (other) => other.userId === record.userId && other.registrationId === record.registrationId && other.attempt > record.attempt,
      );
    assert.deepEqual(
      await list({ eventId: "event-1", latestAttemptOnly: false }),
      ofEvent.map((record) => record.id),
    );
    assert.deepEqual(
      await list({ eventId: "event-1", status: "success", latestAttemptOnly: false }),
      ofEvent.filter((record) => record.status === "success").map((record) => record.id),
    );
    const latest = await list({ eventId: "event-1", latestAttemptOnly: true });
    assert.deepEqual(
      latest,
      ofEvent.filter(isLatest).map((record) => record.id),
    );
    assert.equal(latest.length, 4, "two users × two registrations of event-1");
    assert.deepEqual(
      await list({ eventId: "event-1", status: "failed", latestAttemptOnly: true }),
      ofEvent.filter((record) => isLatest(record) && record.status === "failed").map((record) => record.id),
    );
    assert.deepEqual(await list({ eventId: "no-such-event", latestAttemptOnly: false }), []);
  });

  it("numbers concurrent attempts of one registration without gaps or duplicates", async () => {
    const [user] = users;
    const registrationId = `race-${randomUUID()}`;
    const stored = await Promise.all(
      Array.from({ length: 8 }, () =>
        store.recordValidation(
          validationFor({ userId: user, registrationId, eventId: "race", createdAt: now, outcome: "success", similarity: 90 }),
          undefined,
          () => new Uint8Array(),
        ),
      ),
    );
    const attempts = stored.map((result) => (result.kind === "done" ? result.value.attempt : 0)).sort((a, b) => a - b);
    assert.deepEqual(attempts, [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("answers a replayed idempotency key with the first response and records nothing more", async () => {
    const [user] = users;
    const key = randomUUID();
    const shape = {
      userId: user,
      registrationId: `idem-${key}`,
      eventId: "idem",
      createdAt: now,
      outcome: "success" as const,
      similarity: 91,
    };
    const first = await store.recordValidation(validationFor(shape), idempotencyFor(user, key), (row) => Buffer.from(row.id));
    const second = await store.recordValidation(validationFor(shape), idempotencyFor(user, key), (row) => Buffer.from(row.id));
    assert.equal(first.kind, "done");
    assert.equal(second.kind, "replay");
    if (first.kind !== "done" || second.kind !== "replay") return;
    assert.equal(Buffer.from(second.record.response).toString(), first.value.id);
    assert.equal(
      (await store.validationHistory(user, now, undefined, 100)).filter((record) => record.registrationId === shape.registrationId).length,
      1,
    );
  });

  it("purges expired records in bounded batches when the sweeper runs, and keeps the rest", async () => {
    const expired = all.length - live.length;
    const counted = createFaceMetrics(createMetrics({ serviceName: "face-test" }));
    const first = await store.purgeExpired(now, 3);
    assert.equal(first.validations, 3, "one batch deletes at most batchMax");
    const sweeper = startSweeper({
      store,
      metrics: counted,
      logger: createLogger({ name: "test", level: "silent" }),
      intervalMs: 3_600_000,
      batchMax: 2,
      now: () => now,
    });
    try {
      assert.equal(await sweeper.sweepOnce(), expired - 3);
      assert.equal(await sweeper.sweepOnce(), 0);
    } finally {
      await sweeper.stop();
    }
    assert.equal((await counted.recordsSwept.get()).values[0]?.value, expired - 3);
    const remaining = await pool.query<{ id: string }>("SELECT id FROM face_validation WHERE user_id = ANY($1::uuid[])", [users]);
    const remainingIds = new Set(remaining.rows.map((row) => row.id));
    for (const record of all) assert.equal(remainingIds.has(record.id), record.expiresAt > now, record.createdAt.toISOString());
  });

  it("erases one person's reference, records and stored responses, and nothing of anyone else's", async () => {
    const [user, other] = users;
    const key = randomUUID();
    await store.recordValidation(
      validationFor({ userId: user, registrationId: "erase", eventId: "erase", createdAt: now, outcome: "no_face" }),
      idempotencyFor(user, key),
      () => new Uint8Array([9]),
    );
    const othersBefore = (await store.validationHistory(other, now, undefined, 100)).length;
    const mineBefore = Number((await pool.query("SELECT count(*) FROM face_validation WHERE user_id = $1", [user])).rows[0]?.count);
    const erased = await store.deleteFaceData(user);
    assert.deepEqual(erased, { referenceDeleted: true, validationsDeleted: mineBefore });
    assert.equal(await store.findReference(user), undefined);
    assert.equal(await store.findIdempotency(`user:${user}`, key), undefined);
    assert.equal((await pool.query("SELECT count(*)::int AS n FROM idempotency_record WHERE subject_user_id = $1", [user])).rows[0]?.n, 0);
    assert.equal((await store.validationHistory(other, now, undefined, 100)).length, othersBefore);
    assert.ok(await store.findReference(other));
    assert.deepEqual(await store.deleteFaceData(user), { referenceDeleted: false, validationsDeleted: 0 });
    // With the reference gone, an attempt that was in flight is not recorded.
    const late = await store.recordValidation(
      validationFor({ userId: user, registrationId: "late", eventId: "late", createdAt: now, outcome: "success", similarity: 95 }),
      undefined,
      () => new Uint8Array(),
    );
    assert.equal(late.kind, "reference_gone");
  });
});

describe("face store on a large table", function () {
  this.timeout(180_000);
  let postgres: PostgresServer;
  let pool: pg.Pool;
  let store: FaceStore;

  before(async () => {
    postgres = await startPostgres();
    const databaseUrl = await postgres.createDatabase("face_store_plan");
    await applyMigrations({ databaseUrl, migrationsDir });
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    pool.on("error", () => {});
    store = createFaceStore(pool);
    // 50,000 attempts of 5,000 users across 500 events over 30 days: a table where a scan would be costly.
    await pool.query(`
      INSERT INTO face_validation (id, user_id, registration_id, event_id, attempt, status, failure_reason, message,
        faces_detected, confidence, quality, reference_id, model_version, client_ip, source, recorded_by_service, created_at, expires_at)
      SELECT gen_random_uuid(), md5('user' || (n % 5000))::uuid, 'reg-' || (n % 5000), 'event-' || (n % 500), n / 5000 + 1,
        CASE WHEN n % 3 = 0 THEN 'failed' ELSE 'success' END, CASE WHEN n % 3 = 0 THEN 'no_match' END, 'generated',
        1, 50 + n % 50, 'high', gen_random_uuid(), 'test-model', '', 'web', 'registration',
        now() - (n || ' seconds')::interval, now() - (n || ' seconds')::interval + interval '30 days'
      FROM generate_series(1, 50000) AS n`);
    await pool.query("ANALYZE face_validation");
  });

  after(async () => {
    await store?.close();
    await pool?.end();
    await postgres?.stop();
  });

  function nodesOf(plan: unknown): { "Node Type": string; "Index Name"?: string }[] {
    const nodes: { "Node Type": string; "Index Name"?: string }[] = [];
    const visit = (node: Record<string, unknown>) => {
      nodes.push(node as { "Node Type": string; "Index Name"?: string });
      for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) visit(child);
    };
    for (const root of plan as { Plan: Record<string, unknown> }[]) visit(root.Plan);
    return nodes;
  }

  it("reads an event's records through the event index, never with a sequential scan", async () => {
    const queries: Omit<EventValidationsQuery, "now">[] = [
      { eventId: "event-7", latestAttemptOnly: false, limit: 101 },
      { eventId: "event-7", status: "failed", latestAttemptOnly: false, limit: 501 },
      { eventId: "event-7", latestAttemptOnly: true, limit: 101 },
      {
        eventId: "event-7",
        status: "success",
        latestAttemptOnly: true,
        limit: 101,
        after: { createdAt: new Date(Date.now() - dayMs), id: randomUUID() },
      },
    ];
    for (const query of queries) {
      const nodes = nodesOf(await store.explainEventValidations({ ...query, now: new Date() }));
      const described = JSON.stringify(nodes.map((node) => [node["Node Type"], node["Index Name"]]));
      assert.ok(!nodes.some((node) => node["Node Type"].includes("Seq Scan")), `sequential scan in ${described}`);
      assert.ok(
        nodes.some((node) => node["Index Name"] === "face_validation_event_id_created_at_id_idx"),
        `event index unused: ${described}`,
      );
      if (query.latestAttemptOnly) {
        assert.ok(
          nodes.some((node) => node["Index Name"] === "face_validation_user_id_registration_id_attempt_key"),
          `later attempts not looked up by key: ${described}`,
        );
      }
    }
    const page = await store.eventValidations({ eventId: "event-7", latestAttemptOnly: false, limit: 1000, now: new Date() });
    assert.equal(page.length, 100, "event-7 holds 100 of the 50,000 attempts");
  });
});
