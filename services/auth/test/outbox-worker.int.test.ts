// Goal: the worker that hands ContactVerified events to credential delivers
// at least once and loses nothing: every verified contact reaches
// CredentialService.IssueCredential with the event id as idempotency key and
// the right claims, under a service token that credential's own rules admit;
// an event is marked delivered only after credential accepted it; failures
// are retried with growing waits; with the worker off events wait in the
// outbox, and a restarted auth delivers them; a delivery cut short by a stop
// is sent again, with the same key, after the restart; two claimers never
// take the same event, and an abandoned claim is due again when its lease
// ends. auth runs as the real process on real Postgres and Redis. credential
// is a test double — a real gRPC server built with the runtime (the same
// interceptors, token verification against auth's JWKS, and authorization by
// IssueCredential's rule) whose IssueCredential records calls and answers as
// each test says: the part under test is auth's worker, not credential.
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService, CredentialService } from "@trustmesh/api";
import { type ContactVerified, ContactVerifiedSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import type { IssueCredentialRequest } from "@trustmesh/api/trustmesh/credential/v1/credential_service_pb.js";
import {
  createLogger,
  createMetrics,
  createTokenVerifier,
  type Principal,
  principalOf,
  type RunningServer,
  registration,
  startServer,
} from "@trustmesh/runtime";
import { createPrismaClient } from "@trustmesh/runtime/db";
import {
  type PostgresServer,
  type RedisServer,
  type RunningServices,
  randomKeyEncryptionKeys,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";
import { Redis } from "ioredis";
import pg from "pg";
import { PrismaClient } from "../src/generated/prisma/client.ts";
import { createDatabaseKeySet } from "../src/signing-keys.ts";
import { type AuthStore, createAuthStore } from "../src/store.ts";
import { goodPassword, metricValue, outboxCodeFor, relaxedLimits, uniqueEmail } from "./support/auth-harness.ts";

interface RecordedCall {
  request: IssueCredentialRequest;
  principal: Principal | undefined;
  atMs: number;
  /** Set when the caller went away while the call was held. */
  cancelled: boolean;
}

type Behaviour = (request: IssueCredentialRequest, context: HandlerContext) => Promise<void>;

/** Polls `probe` until it gives something other than undefined, null or false. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > giveUpAt) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("auth: the ContactVerified outbox worker and credential's IssueCredential", function () {
  this.timeout(180_000);
  let postgres: PostgresServer;
  let redisServer: RedisServer;
  let redis: Redis;
  let database: pg.Pool;
  let databaseUrl: string;
  let credential: RunningServer;
  let platform: RunningServices | undefined;
  let authUrls: { grpcUrl: string; metricsUrl: string };
  const keyEncryptionKeys = randomKeyEncryptionKeys();
  const calls: RecordedCall[] = [];
  /** How the double answers, per verified contact (email or phone); others are accepted at once. */
  const behaviours = new Map<string, Behaviour>();
  const held: (() => void)[] = [];
  let prisma: PrismaClient;

  const callsFor = (userId: string) => calls.filter((call) => call.request.userId === userId);

  async function startAuth(env: Record<string, string>) {
    platform = await startServices({
      names: ["auth"],
      databaseUrlFor: async () => databaseUrl,
      redisUrl: redisServer.url,
      keyEncryptionKeys,
      // The test's own clients keep connections open, which a drain would wait out in full.
      env: { LOG_LEVEL: "warn", SHUTDOWN_GRACE_MS: "1000", ...relaxedLimits, ...env },
    });
    const address = platform.services.auth;
    assert.ok(address);
    authUrls = { grpcUrl: address.grpcUrl, metricsUrl: address.metricsUrl };
  }

  async function stopAuth() {
    await platform?.stop();
    platform = undefined;
  }

  const withWorker = () => ({ AUTH_CREDENTIAL_GRPC_URL: `http://127.0.0.1:${credential.grpcPort}` });

  /** Signs up and enters the emailed code (and the texted one for a phone); returns the account id. */
  async function verifiedAccount(options: { email?: string; phoneNumber?: string } = {}): Promise<{ userId: string; email: string }> {
    const client = createClient(AuthService, createGrpcTransport({ baseUrl: authUrls.grpcUrl }));
    const email = options.email ?? uniqueEmail("outbox");
    await client.signUp({
      email,
      phoneNumber: options.phoneNumber ?? "",
      password: goodPassword,
      idempotencyKey: `o-${email.replace("@", ".")}`,
    });
    await client.completeEmailVerification({ email, code: await outboxCodeFor(redis, email) });
    if (options.phoneNumber)
      await client.completePhoneVerification({ phoneNumber: options.phoneNumber, code: await outboxCodeFor(redis, options.phoneNumber) });
    const row = await database.query<{ id: string }>("SELECT id FROM user_account WHERE email = $1", [email]);
    return { userId: row.rows[0]?.id as string, email };
  }

  async function outboxOf(userId: string) {
    const rows = await database.query<{ payload: Buffer; processed_at: Date | null; attempts: number; last_error: string | null }>(
      "SELECT payload, processed_at, attempts, last_error FROM outbox_event WHERE topic = 'contact.verified' ORDER BY id",
    );
    return rows.rows
      .map((row) => ({ ...row, event: fromBinary(ContactVerifiedSchema, row.payload) as ContactVerified }))
      .filter((row) => row.event.userId === userId);
  }

  /** auth_outbox_deliveries_total for an outcome; NaN while the series is missing, so no comparison passes. */
  async function deliveries(outcome: string): Promise<number> {
    return Number(await metricValue(authUrls, "auth_outbox_deliveries_total", { outcome }));
  }

  before(async () => {
    [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
    databaseUrl = await postgres.createDatabase("auth_outbox_worker");
    // One pool for the test's queries and for the Prisma client below, ended before Postgres stops.
    database = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    // pg's Pool.end() resolves before its sockets have closed; Postgres stopping right after
    // may still reach one, which is no failure of the test.
    database.on("error", () => {});
    // startServices puts auth on logical database 0.
    redis = new Redis(`${redisServer.url.replace(/\/\d*$/, "")}/0`);
    prisma = createPrismaClient(PrismaClient, { pool: database });
    credential = await startServer({
      name: "credential",
      host: "127.0.0.1",
      grpcPort: 0,
      httpPort: 0,
      adminPort: 0,
      services: [
        registration(CredentialService, {
          async issueCredential(request, context) {
            const call: RecordedCall = { request, principal: principalOf(context), atMs: Date.now(), cancelled: false };
            calls.push(call);
            context.signal.addEventListener("abort", () => {
              call.cancelled = true;
            });
            const { claims } = request;
            const contact = claims.case === "email" ? claims.value.email : claims.case === "phone" ? claims.value.phoneNumber : "";
            await behaviours.get(contact)?.(request, context);
            return { credential: { id: crypto.randomUUID() } };
          },
        }),
      ],
      checks: {},
      logger: createLogger({ name: "credential-double", level: "silent" }),
      metrics: createMetrics({ serviceName: "credential" }),
      // auth's public keys straight from its database, as auth itself reads them: the same keys
      // GetJwks serves, without tying the double to the port of whichever auth process runs.
      verifier: createTokenVerifier({
        keys: createDatabaseKeySet(createAuthStore(prisma), 15 * 60_000, 0),
        issuer: "trustmesh-auth",
        serviceName: "credential",
      }),
      corsAllowedOrigins: [],
      defaultTimeoutMs: 10_000,
      maxTimeoutMs: 60_000,
    });
    await startAuth(withWorker());
  });

  after(async () => {
    for (const release of held) release();
    await stopAuth();
    await credential?.shutdown(1000);
    await prisma?.$disconnect();
    redis?.disconnect();
    await database?.end();
    await Promise.all([redisServer?.stop(), postgres?.stop()]);
  });

  it("delivers each verified contact once accepted, keyed by its event id, under a service token credential's rule admits", async () => {
    const phoneNumber = "+14155552671";
    const { userId, email } = await verifiedAccount({ phoneNumber });
    const received = await eventually("two IssueCredential calls", async () => callsFor(userId).length >= 2 && callsFor(userId));
    const rows = await eventually("both events marked delivered", async () => {
      const found = await outboxOf(userId);
      return found.length === 2 && found.every((row) => row.processed_at !== null) && found;
    });
    assert.deepEqual(
      rows.map((row) => [row.attempts, row.last_error]),
      [
        [1, null],
        [1, null],
      ],
    );
    for (const { event } of rows) {
      const call = received.find((candidate) => candidate.request.idempotencyKey === event.eventId);
      assert.ok(call, `a call keyed by event ${event.eventId}`);
      assert.equal(call.request.userId, userId);
      assert.equal(call.request.holderDid, "", "credential picks the user's primary DID");
      const claims = call.request.claims;
      if (claims.case === "email") assert.equal(claims.value.email, email);
      else if (claims.case === "phone") assert.equal(claims.value.phoneNumber, phoneNumber);
      else assert.fail(`unexpected claims ${claims.case}`);
      assert.deepEqual(claims.value.verifiedAt, event.verifiedAt);
      // The double authorised the call by IssueCredential's rule: the auth service, scoped to this one method.
      assert.equal(call.principal?.kind, "service");
      assert.ok(call.principal?.kind === "service");
      assert.equal(call.principal.serviceName, "auth");
      assert.deepEqual([...call.principal.scopes], ["trustmesh.credential.v1.CredentialService/IssueCredential"]);
    }
    assert.equal(received.length, 2, "nothing was sent twice");
    assert.ok((await deliveries("delivered")) >= 2);
  });

  it("tries again after failures, each wait longer than the last, and marks the event delivered only when credential accepted it", async () => {
    const email = uniqueEmail("outbox-retry");
    let failuresLeft = 2;
    behaviours.set(email, async () => {
      if (failuresLeft === 0) return;
      failuresLeft--;
      throw new ConnectError("credential is down for a moment", Code.Unavailable);
    });
    const failedBefore = await deliveries("failed");
    const { userId } = await verifiedAccount({ email });
    // After the first failure the event is still waiting, with the reason recorded.
    const waiting = await eventually("the first failure recorded", async () => {
      const [row] = await outboxOf(userId);
      return row?.last_error ? row : undefined;
    });
    assert.equal(waiting.processed_at, null);
    assert.match(waiting.last_error ?? "", /credential is down for a moment/);

    const [row] = await eventually("the event delivered on the third try", async () => {
      const found = await outboxOf(userId);
      return found[0]?.processed_at ? found : undefined;
    });
    assert.equal(row?.attempts, 3);
    assert.equal(row?.last_error, null);
    const tries = callsFor(userId);
    assert.equal(tries.length, 3);
    assert.equal(new Set(tries.map((call) => call.request.idempotencyKey)).size, 1, "every try carries the same key");
    const [first, second, third] = tries.map((call) => call.atMs);
    // Waits are drawn from [base × 2^(n−1) / 2, base × 2^(n−1)] with a base of 1 s.
    assert.ok((second as number) - (first as number) >= 450, `first wait ${(second as number) - (first as number)} ms`);
    assert.ok((third as number) - (second as number) >= 950, `second wait ${(third as number) - (second as number)} ms`);
    assert.equal(await deliveries("failed"), failedBefore + 2);
  });

  it("keeps events in the outbox while the worker is off and delivers them after a restart; a delivery cut short by a stop is sent again with the same key", async () => {
    await stopAuth();
    await startAuth({});
    const waiting = await verifiedAccount();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(callsFor(waiting.userId).length, 0, "without AUTH_CREDENTIAL_GRPC_URL nothing is sent");
    assert.equal((await outboxOf(waiting.userId))[0]?.processed_at, null);
    await stopAuth();
    await startAuth(withWorker());
    await eventually("the waiting event delivered after the restart", async () => (await outboxOf(waiting.userId))[0]?.processed_at);
    assert.equal(callsFor(waiting.userId).length, 1);

    // credential holds the next call until the caller goes away; auth stops meanwhile.
    const email = uniqueEmail("outbox-cut");
    behaviours.set(
      email,
      (_request, context) =>
        new Promise<void>((_resolve, reject) => {
          const release = () => reject(new ConnectError("released", Code.Unavailable));
          held.push(release);
          context.signal.addEventListener("abort", release);
        }),
    );
    const cut = await verifiedAccount({ email });
    const [heldCall] = await eventually(
      "the call reaching credential",
      async () => callsFor(cut.userId).length === 1 && callsFor(cut.userId),
    );
    await stopAuth();
    const [afterStop] = await outboxOf(cut.userId);
    assert.equal(afterStop?.processed_at, null, "an unanswered delivery is not marked delivered");
    assert.equal(afterStop?.attempts, 1);
    await eventually("credential seeing the caller go away", async () => heldCall?.cancelled);

    behaviours.delete(email);
    await startAuth(withWorker());
    const [delivered] = await eventually("the cut-short event delivered after the restart", async () => {
      const found = await outboxOf(cut.userId);
      return found[0]?.processed_at ? found : undefined;
    });
    assert.equal(delivered?.attempts, 2);
    const tries = callsFor(cut.userId);
    assert.equal(tries.length, 2);
    assert.equal(tries[0]?.request.idempotencyKey, delivered?.event.eventId);
    assert.equal(tries[1]?.request.idempotencyKey, delivered?.event.eventId);
  });

  it("never gives one event to two claimers (FOR UPDATE SKIP LOCKED), and an abandoned claim is due again when its lease ends", async () => {
    const store: AuthStore = createAuthStore(prisma);
    const topic = "test.claims";
    await database.query("INSERT INTO outbox_event (topic, payload) SELECT $1, '\\x00' FROM generate_series(1, 30)", [topic]);
    const [left, right] = await Promise.all([store.claimOutboxEvents(topic, 20, 1000), store.claimOutboxEvents(topic, 20, 1000)]);
    const ids = [...(left ?? []), ...(right ?? [])].map((event) => String(event.id));
    assert.equal(ids.length, 30, "between them the two claimers took every due event");
    assert.equal(new Set(ids).size, 30, "and none twice");
    assert.ok([...(left ?? []), ...(right ?? [])].every((event) => event.attempts === 1));
    assert.deepEqual(await store.claimOutboxEvents(topic, 20, 1000), [], "claimed events are not due while their lease runs");

    // The claimers died without a word: when the lease ends, the events are due again.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const again = await store.claimOutboxEvents(topic, 50, 60_000);
    assert.equal(again.length, 30);
    assert.ok(again.every((event) => event.attempts === 2));
    for (const event of again.slice(0, 10)) await store.markOutboxDelivered(event.id);
    for (const event of again.slice(10)) await store.releaseOutboxEvent(event.id, 0, "test");
    const left2 = await store.claimOutboxEvents(topic, 50, 60_000);
    assert.equal(left2.length, 20, "delivered events are never claimed again; released ones are due at once");
  });
});
