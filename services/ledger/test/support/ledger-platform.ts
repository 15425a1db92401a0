// The ledger as it runs in production, for tests: real PostgreSQL and Redis,
// the real auth and ledger processes (testkit's startServices), called over
// plain @grpc/grpc-js. Tokens are signed with auth's own signing key, which the
// test can open because it chose auth's key-encryption keys — so ledger
// verifies them against auth's real GetJwks, exactly as it will verify the
// service tokens auth issues.
import assert from "node:assert/strict";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { createSealer, parseKeyRing } from "@trustmesh/runtime";
import {
  type PostgresServer,
  type RunningServices,
  randomKeyEncryptionKeys,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";
import { createGrpcJsClient, type GrpcJsError, grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import { importPKCS8 } from "jose";
import pg from "pg";
import { signToken, type TestKey } from "../../../../packages/runtime/test/support/tokens.ts";

export interface LedgerPlatform {
  postgres: PostgresServer;
  /** The ledger's gRPC address, host:port. */
  ledgerAddress: string;
  /** Superuser URL of the ledger's database, for direct SQL. */
  ledgerDatabaseUrl: string;
  metricsUrl: string;
  /** A token of an internal service addressed to ledger. */
  serviceToken(serviceName: string): Promise<string>;
  /** A user access token. */
  userToken(userId: string, roles?: string[]): Promise<string>;
  /** Calls a ledger RPC over gRPC with the token (or none) and any further metadata (a traceparent, say). */
  call<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    request: MessageInitShape<I>,
    token?: string,
    metadata?: Record<string, string>,
  ): Promise<MessageShape<O>>;
  /** A query on the ledger's database as superuser. */
  sql<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  logs(): string;
  stop(): Promise<void>;
}

export interface LedgerPlatformOptions {
  /** Extra variables for the services (LEDGER_*, LOG_LEVEL ...). */
  env?: Record<string, string>;
  /**
   * A PostgreSQL server the caller started and will stop (the benchmark's
   * durable one); by default a throwaway server with durability off.
   */
  postgres?: PostgresServer;
  /** Each whole line auth and the ledger print (bench/ledger/profile.ts reads V8's GC trace from it). */
  onOutput?: (service: string, line: string) => void;
}

export async function startLedgerPlatform(options: LedgerPlatformOptions = {}): Promise<LedgerPlatform> {
  const [postgres, redis] = await Promise.all([options.postgres ?? startPostgres(), startRedis()]);
  const stopPostgres = () => (options.postgres === undefined ? postgres.stop() : Promise.resolve());
  const keys = randomKeyEncryptionKeys();
  const databases = new Map<string, string>();
  let services: RunningServices | undefined;
  let sqlPool: pg.Pool | undefined;
  let client: grpc.Client | undefined;
  try {
    services = await startServices({
      names: ["auth", "ledger"],
      databaseUrlFor: async (name) => {
        const url = await postgres.createDatabase(`test_${name}`);
        databases.set(name, url);
        return url;
      },
      redisUrl: redis.url,
      keyEncryptionKeys: keys,
      env: { LOG_LEVEL: "warn", ...options.env },
      onOutput: options.onOutput,
    });
    const key = await openAuthSigningKey(databases.get("auth") as string, keys);
    const ledger = services.services.ledger;
    assert.ok(ledger, "ledger is running");
    const ledgerClient = createGrpcJsClient(`127.0.0.1:${ledger.grpcPort}`);
    client = ledgerClient;
    const pool = new pg.Pool({ connectionString: databases.get("ledger"), max: 4 });
    sqlPool = pool;
    const running = services;
    return {
      postgres,
      ledgerAddress: `127.0.0.1:${ledger.grpcPort}`,
      ledgerDatabaseUrl: databases.get("ledger") as string,
      metricsUrl: ledger.metricsUrl,
      serviceToken: (serviceName) =>
        signToken(key, {
          subject: serviceName,
          kind: "service",
          audience: "ledger",
          expiresInSeconds: 3600,
          scopes: ["trustmesh.ledger.v1.LedgerService/*"],
        }),
      userToken: (userId, roles = []) => signToken(key, { subject: userId, kind: "user", roles, expiresInSeconds: 3600 }),
      call: (method, request, token, metadata = {}) =>
        grpcJsUnary(ledgerClient, method, request, {
          metadata: token === undefined ? metadata : { ...metadata, authorization: `Bearer ${token}` },
          timeoutMs: 60_000,
        }),
      sql: async (text, values) => (await pool.query(text, values)).rows,
      logs: () => running.logsOf("ledger"),
      async stop() {
        ledgerClient.close();
        await pool.end();
        await running.stop();
        await Promise.all([redis.stop(), stopPostgres()]);
      },
    };
  } catch (error) {
    client?.close();
    await sqlPool?.end();
    await services?.stop();
    await Promise.all([redis.stop(), stopPostgres()]);
    throw error;
  }
}

/** auth's active signing key, opened with the key ring the test gave auth. */
async function openAuthSigningKey(authDatabaseUrl: string, keys: { ring: string; activeId: string }): Promise<TestKey> {
  const client = new pg.Client({ connectionString: authDatabaseUrl });
  await client.connect();
  try {
    const rows = await client.query<{ kid: string; private_key_sealed: Buffer; public_jwk: Record<string, string> }>(
      "SELECT kid, private_key_sealed, public_jwk FROM signing_key WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1",
    );
    const row = rows.rows[0];
    assert.ok(row, "auth created its signing key");
    const pem = createSealer(parseKeyRing(keys.ring), keys.activeId).open(row.private_key_sealed, row.kid).toString("utf8");
    return { kid: row.kid, privateKey: await importPKCS8(pem, "EdDSA"), publicJwk: { ...row.public_jwk, kid: row.kid } };
  } finally {
    await client.end();
  }
}

/** Asserts that a call fails with the gRPC code, and that its message matches. */
export async function assertGrpcError(call: Promise<unknown>, code: grpc.status, message?: RegExp): Promise<GrpcJsError> {
  let caught: GrpcJsError | undefined;
  try {
    await call;
  } catch (error) {
    caught = error as GrpcJsError;
  }
  assert.ok(caught, `expected gRPC status ${code}, but the call succeeded`);
  assert.equal(caught.code, code, `expected status ${code}, got ${caught.code}: ${caught.details}`);
  if (message !== undefined) assert.match(caught.details, message);
  return caught;
}
