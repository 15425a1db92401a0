// Real Postgres (auth's migrations applied) and real Redis for the
// second-factor tests, and the modules built on them exactly as auth builds
// them, with a clock the tests can stop.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { createSealer, DomainError, parseKeyRing, type Sealer } from "@trustmesh/runtime";
import { createPrismaClient } from "@trustmesh/runtime/db";
import { type PostgresServer, type RedisServer, randomKeyEncryptionKeys, startPostgres, startRedis } from "@trustmesh/testkit";
import { Redis } from "ioredis";
import pg from "pg";
import { PrismaClient } from "../../src/generated/prisma/client.ts";
import type { SecondFactorSettings } from "../../src/mfa/config.ts";
import { SecondFactorRejectedError, type SecondFactorRejection, secondFactorRejectedMessage } from "../../src/mfa/errors.ts";
import { createSecondFactorModules, type SecondFactorModules } from "../../src/mfa/second-factors.ts";
import type { SoftwareAuthenticator } from "./software-authenticator.ts";

export const testOrigin = "https://app.trustmesh.test";

export const testSettings: SecondFactorSettings = {
  relyingPartyId: "trustmesh.test",
  relyingPartyName: "Trustmesh (test)",
  origins: [testOrigin],
  challengeTtlMs: 60_000,
  passkeysPerUserMax: 20,
  totpIssuer: "Trustmesh",
  totpSetupTtlMs: 600_000,
  codeAttemptsMax: 50,
  codeAttemptsWindowMs: 900_000,
};

export interface SecondFactorHarness {
  prisma: PrismaClient;
  redis: Redis;
  /** A plain pg client, for reading rows as they are stored. */
  sql: pg.Client;
  keyRing: Map<string, Buffer>;
  sealer: Sealer;
  /** Set to freeze TOTP's clock at a moment (ms); null follows the real clock. */
  clock: { nowMs: number | null };
  /** Modules on the shared database and Redis, with settings and keys overridable per test. */
  modules(overrides?: {
    settings?: Partial<SecondFactorSettings>;
    keyRing?: Map<string, Buffer>;
    activeKeyId?: string;
  }): SecondFactorModules;
  /**
   * A new account to hang factors on: the only place these tests make an
   * account row. It fills user_account's required columns (a contact and a
   * password hash that no password matches); nothing here signs in with it.
   */
  createAccount(): Promise<string>;
  stop(): Promise<void>;
}

export async function startSecondFactorHarness(databaseName: string): Promise<SecondFactorHarness> {
  const [postgres, redisServer]: [PostgresServer, RedisServer] = await Promise.all([startPostgres(), startRedis()]);
  const databaseUrl = await postgres.createDatabase(databaseName, {
    migrationsDir: join(import.meta.dirname, "..", "..", "prisma", "migrations"),
  });
  const prisma = createPrismaClient(PrismaClient, { databaseUrl });
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  const sql = new pg.Client({ connectionString: databaseUrl });
  await sql.connect();
  const keys = randomKeyEncryptionKeys();
  const keyRing = parseKeyRing(keys.ring);
  const sealer = createSealer(keyRing, keys.activeId);
  const clock: { nowMs: number | null } = { nowMs: null };

  return {
    prisma,
    redis,
    sql,
    keyRing,
    sealer,
    clock,
    modules(overrides = {}) {
      const ring = overrides.keyRing ?? keyRing;
      return createSecondFactorModules({
        prisma,
        redis,
        sealer: createSealer(ring, overrides.activeKeyId ?? keys.activeId),
        keyRing: ring,
        settings: { ...testSettings, ...overrides.settings },
        now: () => clock.nowMs ?? Date.now(),
      });
    },
    async createAccount() {
      const id = randomUUID();
      // The hash is well-formed PHC text that no password matches; the table only requires one.
      await sql.query("INSERT INTO user_account (id, email, password_hash) VALUES ($1, $2, $3)", [
        id,
        `${id}@example.com`,
        "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      ]);
      return id;
    },
    async stop() {
      await Promise.allSettled([prisma.$disconnect(), redis.quit(), sql.end()]);
      await Promise.allSettled([postgres.stop(), redisServer.stop()]);
    },
  };
}

/** Asserts that `promise` fails with a DomainError of `code`, and, for a refused factor, with `rejection`. */
export async function assertRefused(promise: Promise<unknown>, code: Code, rejection?: SecondFactorRejection): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
    assert.equal(Code[error.code], Code[code], error.message);
    if (rejection !== undefined) {
      assert.ok(error instanceof SecondFactorRejectedError, `expected a SecondFactorRejectedError, got ${error.message}`);
      assert.equal(error.rejection, rejection);
      assert.equal(error.message, secondFactorRejectedMessage, "every refusal looks the same to the caller");
    }
    return true;
  });
}

/** Registers a passkey on `authenticator` for the account, through both ceremony steps. */
export async function registerPasskey(modules: SecondFactorModules, userId: string, authenticator: SoftwareAuthenticator, name = "") {
  const ceremony = await modules.passkeys.beginRegistration(userId, { name: `${userId}@example.com`, displayName: "" });
  return modules.passkeys.finishRegistration(userId, {
    ceremonyId: ceremony.ceremonyId,
    responseJson: authenticator.register(ceremony.optionsJson, { origin: testOrigin }),
    name,
  });
}

/** A login without username on `authenticator`, through both ceremony steps. */
export async function logInWithPasskey(modules: SecondFactorModules, authenticator: SoftwareAuthenticator) {
  const ceremony = await modules.passkeys.beginLogin();
  return modules.passkeys.finishLogin({
    ceremonyId: ceremony.ceremonyId,
    responseJson: authenticator.authenticate(ceremony.optionsJson, { origin: testOrigin }),
  });
}
