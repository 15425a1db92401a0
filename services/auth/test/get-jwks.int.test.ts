// Goal: auth creates its Ed25519 signing key on first start, stores the private
// half sealed (never in plain text), publishes the public half through GetJwks
// over gRPC and Connect, keeps the same key across restarts, and refuses to
// start without its key-encryption keys.
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "@trustmesh/api";
import { ConfigError, type RunningService, startService } from "@trustmesh/runtime";
import { type PostgresServer, type RedisServer, randomKeyEncryptionKeys, startPostgres, startRedis } from "@trustmesh/testkit";
import pg from "pg";
import { authDefinition } from "../src/routes.ts";

describe("auth signing keys and GetJwks", function () {
  this.timeout(60_000);
  let postgres: PostgresServer;
  let redis: RedisServer;
  let databaseUrl: string;
  const keys = randomKeyEncryptionKeys();

  const environment = (overrides: Record<string, string> = {}) => ({
    HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    ADMIN_PORT: "0",
    LOG_LEVEL: "silent",
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    AUTH_GRPC_URL: "http://127.0.0.1:1",
    AUTH_KEK_RING: keys.ring,
    AUTH_KEK_ACTIVE_ID: keys.activeId,
    ...overrides,
  });

  async function jwksOf(service: RunningService) {
    const grpc = createClient(AuthService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.server.grpcPort}` }));
    const connect = createClient(
      AuthService,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${service.server.httpPort}`, httpVersion: "1.1" }),
    );
    const [viaGrpc, viaConnect] = await Promise.all([grpc.getJwks({}), connect.getJwks({})]);
    assert.deepEqual(viaGrpc.keys, viaConnect.keys);
    return viaGrpc;
  }

  before(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    databaseUrl = await postgres.createDatabase("auth_jwks");
  });

  after(async () => {
    await Promise.all([redis?.stop(), postgres?.stop()]);
  });

  it("publishes one Ed25519 key, sealed at rest, and the same one after a restart", async () => {
    const first = await startService(authDefinition, environment());
    const published = await jwksOf(first).finally(() => first.stop());
    assert.equal(published.keys.length, 1);
    const [key] = published.keys;
    assert.deepEqual([key?.kty, key?.crv, key?.alg, key?.use], ["OKP", "Ed25519", "EdDSA", "sig"]);
    assert.equal(Buffer.from(key?.x ?? "", "base64url").length, 32);
    assert.ok((published.cacheMaxAge?.seconds ?? 0n) > 0n);

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const rows = (await client.query<{ private_key_sealed: Buffer }>("SELECT private_key_sealed FROM signing_key")).rows;
    await client.end();
    assert.equal(rows.length, 1);
    assert.ok(!rows[0]?.private_key_sealed.toString("latin1").includes("PRIVATE KEY"), "the private key is not stored in plain text");

    const second = await startService(authDefinition, environment());
    const again = await jwksOf(second).finally(() => second.stop());
    assert.deepEqual(again.keys, published.keys);
  });

  it("refuses to start without its key-encryption keys, naming the variable", async () => {
    await assert.rejects(startService(authDefinition, environment({ AUTH_KEK_RING: "" })), (error: ConfigError) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.variables, ["AUTH_KEK_RING"]);
      return true;
    });
  });

  it("refuses to open its signing key with the wrong key-encryption key", async () => {
    const wrong = randomKeyEncryptionKeys();
    await assert.rejects(
      startService(authDefinition, environment({ AUTH_KEK_RING: wrong.ring.replace("local-1", "other"), AUTH_KEK_ACTIVE_ID: "other" })),
    );
  });
});
