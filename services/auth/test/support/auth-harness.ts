// Starts auth as a real process (the same `node src/main.ts` production runs)
// on a throwaway Postgres and Redis, and gives tests a client, raw HTTP
// access, the development outbox, and direct database access for checking
// what was stored.
import assert from "node:assert/strict";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "@trustmesh/api";
import { ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
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
import { devOutboxKey } from "../../src/notifier.ts";

export type AuthClient = Client<typeof AuthService>;

export interface AuthHarness {
  client: AuthClient;
  grpcUrl: string;
  httpUrl: string;
  metricsUrl: string;
  redis: Redis;
  database: pg.Pool;
  /** The key-encryption keys auth runs with, so tests can open its signing key and forge tokens. */
  keyEncryptionKeys: { ring: string; activeId: string };
  /** The newest code the development outbox holds for this contact and kind, waiting for it to arrive. */
  codeFor(to: string, kind?: string): Promise<string>;
  /** Every message the development outbox holds for this contact, newest first. */
  messagesFor(to: string): Promise<OutboxMessage[]>;
  logs(): string;
  stop(): Promise<void>;
}

export interface OutboxMessage {
  channel: string;
  to: string;
  kind: string;
  subject: string;
  text: string;
  code?: string;
}

export interface Infrastructure {
  postgres: PostgresServer;
  stop(): Promise<void>;
}

export async function startInfrastructure(): Promise<Infrastructure> {
  const postgres = await startPostgres();
  return { postgres, stop: () => postgres.stop() };
}

let databaseCount = 0;

/** Limits high enough that only the behaviour a test is about can refuse a call. */
export const relaxedLimits = {
  AUTH_RATE_LIMIT_PER_IP: "1000000",
  AUTH_RATE_LIMIT_PER_IDENTIFIER: "1000000",
  AUTH_CODE_RESEND_SECONDS: "1",
};

export async function startAuth(infrastructure: Infrastructure, env: Record<string, string> = {}): Promise<AuthHarness> {
  databaseCount++;
  const databaseUrl = await infrastructure.postgres.createDatabase(`auth_test_${process.pid}_${databaseCount}`);
  // A Redis of its own, so rate limits and lockouts of one harness never reach another.
  const redisServer: RedisServer = await startRedis();
  const keyEncryptionKeys = randomKeyEncryptionKeys();
  let platform: RunningServices;
  try {
    platform = await startServices({
      names: ["auth"],
      databaseUrlFor: async () => databaseUrl,
      redisUrl: redisServer.url,
      keyEncryptionKeys,
      env: { LOG_LEVEL: "warn", ...env },
    });
  } catch (error) {
    await redisServer.stop();
    throw error;
  }
  const address = platform.services.auth;
  assert.ok(address);
  // startServices puts auth on logical database 0 of the server.
  const redis = new Redis(`${redisServer.url.replace(/\/\d*$/, "")}/0`);
  const database = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  return {
    client: createClient(AuthService, createGrpcTransport({ baseUrl: address.grpcUrl })),
    grpcUrl: address.grpcUrl,
    httpUrl: address.httpUrl,
    metricsUrl: address.metricsUrl,
    redis,
    database,
    keyEncryptionKeys,
    messagesFor: (to) => outboxMessagesFor(redis, to),
    codeFor: (to, kind) => outboxCodeFor(redis, to, kind),
    logs: () => platform.logsOf("auth"),
    async stop() {
      redis.disconnect();
      await database.end();
      await platform.stop();
      await redisServer.stop();
    },
  };
}

/** Every message the development outbox on `redis` holds for this contact, newest first. */
export async function outboxMessagesFor(redis: Redis, to: string): Promise<OutboxMessage[]> {
  return (await redis.lrange(devOutboxKey, 0, -1)).map((text) => JSON.parse(text) as OutboxMessage).filter((message) => message.to === to);
}

/** The newest code of this kind the development outbox on `redis` holds for this contact, waiting for it to arrive. */
export async function outboxCodeFor(redis: Redis, to: string, kind = "verification_code"): Promise<string> {
  // Delivery runs after the answer, off the request path; it lands within milliseconds.
  for (let attempt = 0; attempt < 100; attempt++) {
    const found = (await outboxMessagesFor(redis, to)).find((message) => message.kind === kind && message.code);
    if (found?.code) return found.code;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ${kind} for ${to} in the development outbox`);
}

/**
 * Registers mocha hooks, inside a describe, that start Postgres and an auth
 * process before the suite and stop them after it. The returned object is
 * filled in by the before hook.
 */
export function useAuth(env: Record<string, string> = {}): AuthHarness {
  const auth = {} as AuthHarness;
  let infrastructure: Infrastructure | undefined;
  before(async () => {
    infrastructure = await startInfrastructure();
    Object.assign(auth, await startAuth(infrastructure, env));
  });
  after(async () => {
    await auth.stop?.();
    await infrastructure?.stop();
  });
  return auth;
}

/** Asserts a call fails with this code and, when given, this ErrorInfo reason. */
export async function rejectsWith(call: Promise<unknown>, code: Code, reason?: string): Promise<ConnectError> {
  let caught: unknown;
  try {
    await call;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConnectError, `expected ${Code[code]}, got ${caught === undefined ? "success" : String(caught)}`);
  assert.equal(Code[caught.code], Code[code], caught.message);
  if (reason !== undefined) assert.equal(caught.findDetails(ErrorInfoSchema)[0]?.reason, reason, caught.message);
  return caught;
}

export function bearer(token: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${token}` } };
}

let emailCount = 0;
export function uniqueEmail(label = "user"): string {
  emailCount++;
  return `${label}-${process.pid}-${emailCount}-${Date.now()}@example.com`;
}

export const goodPassword = "correct horse battery staple";

/** Signs up, enters the emailed code, and signs in; returns the tokens. */
export async function signedInUser(harness: AuthHarness, email = uniqueEmail(), password = goodPassword) {
  await harness.client.signUp({ email, password, idempotencyKey: `k-${email.replace("@", ".")}` });
  await harness.client.completeEmailVerification({ email, code: await harness.codeFor(email) });
  const login = await harness.client.login({ identifier: { case: "email", value: email }, password, deviceName: "test device" });
  assert.equal(login.result.case, "tokens");
  return { email, password, tokens: login.result.value };
}

/**
 * The value of one series on auth's /metrics: the first sample of `name`
 * whose labels include all of `labels`; undefined when there is none.
 */
export async function metricValue(
  harness: Pick<AuthHarness, "metricsUrl">,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const text = await (await fetch(harness.metricsUrl)).text();
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1], pair[2]]));
    if (Object.entries(labels).every(([label, value]) => present[label] === value)) return Number(match[3]);
  }
  return undefined;
}
