// Goal: rotation is a config change. A restart with a new
// AUTH_SIGNING_KEY_VERSION signs with a new key while the old one stays
// published, so tokens it signed keep working until they expire; a restart
// with new argon2 parameters re-hashes a password at its next successful login.
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "@trustmesh/api";
import { type RunningService, startService } from "@trustmesh/runtime";
import { type PostgresServer, type RedisServer, randomKeyEncryptionKeys, startPostgres, startRedis } from "@trustmesh/testkit";
import { Redis } from "ioredis";
import { decodeProtectedHeader } from "jose";
import pg from "pg";
import { authDefinition } from "../src/routes.ts";
import { bearer, goodPassword, uniqueEmail } from "./support/auth-harness.ts";

describe("auth: signing key and password hash rotation", function () {
  this.timeout(60_000);
  let postgres: PostgresServer;
  let redisServer: RedisServer;
  let databaseUrl: string;
  const keys = randomKeyEncryptionKeys();

  before(async () => {
    [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
    databaseUrl = await postgres.createDatabase("auth_rotation");
  });

  after(async () => {
    await Promise.all([redisServer?.stop(), postgres?.stop()]);
  });

  const start = (overrides: Record<string, string>) =>
    startService(authDefinition, {
      HOST: "127.0.0.1",
      GRPC_PORT: "0",
      HTTP_PORT: "0",
      ADMIN_PORT: "0",
      LOG_LEVEL: "silent",
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisServer.url,
      AUTH_GRPC_URL: "http://127.0.0.1:1",
      AUTH_KEK_RING: keys.ring,
      AUTH_KEK_ACTIVE_ID: keys.activeId,
      ...overrides,
    });
  const clientOf = (service: RunningService) =>
    createClient(AuthService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.server.grpcPort}` }));

  async function passwordHashOf(email: string): Promise<string> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return (await client.query("SELECT password_hash FROM user_account WHERE email = $1", [email])).rows[0]?.password_hash;
    } finally {
      await client.end();
    }
  }

  it("publishes old and new keys after a version change, keeps old tokens valid, and re-hashes on login", async () => {
    const email = uniqueEmail("rotate");
    const first = await start({ AUTH_ARGON2_ITERATIONS: "2" });
    let oldToken: string;
    let oldKid: string;
    try {
      const client = clientOf(first);
      await client.signUp({ email, password: goodPassword, idempotencyKey: "rotate-1" });
      const redis = new Redis(redisServer.url);
      let code = "";
      for (let attempt = 0; attempt < 100 && code === ""; attempt++) {
        code = (await redis.lrange("dev-outbox", 0, -1)).map((text) => JSON.parse(text)).find((entry) => entry.to === email)?.code ?? "";
        if (code === "") await new Promise((resolve) => setTimeout(resolve, 50));
      }
      redis.disconnect();
      await client.completeEmailVerification({ email, code });
      const login = await client.login({ identifier: { case: "email", value: email }, password: goodPassword });
      assert.equal(login.result.case, "tokens");
      oldToken = login.result.value.accessToken;
      oldKid = decodeProtectedHeader(oldToken).kid as string;
      assert.deepEqual(
        (await client.getJwks({})).keys.map((key) => key.kid),
        [oldKid],
      );
      assert.match(await passwordHashOf(email), /\$m=19456,p=1,t=2\$/);
    } finally {
      await first.stop();
    }

    const second = await start({ AUTH_SIGNING_KEY_VERSION: "2", AUTH_ARGON2_ITERATIONS: "3" });
    try {
      const client = clientOf(second);
      const published = (await client.getJwks({})).keys.map((key) => key.kid);
      assert.equal(published.length, 2);
      assert.equal(published[1], oldKid, "the retired key is still published, after the new one");
      assert.ok((await client.getMe({}, bearer(oldToken))).user, "a token signed with the retired key still works");
      const login = await client.login({ identifier: { case: "email", value: email }, password: goodPassword });
      assert.equal(login.result.case, "tokens");
      assert.equal(decodeProtectedHeader(login.result.value.accessToken).kid, published[0]);
      assert.match(await passwordHashOf(email), /\$m=19456,p=1,t=3\$/, "re-hashed with the new parameters");
      assert.equal((await client.login({ identifier: { case: "email", value: email }, password: goodPassword })).result.case, "tokens");
    } finally {
      await second.stop();
    }
  });
});
