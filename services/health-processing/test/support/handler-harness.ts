// The handlers as DESIGN.md §6's second test level runs them: the service
// implementation behind createRouterTransport, with the runtime's full
// interceptor stack (tokens verified against a real EdDSA key, proto rules,
// protovalidate, error mapping), on a real throwaway Postgres and Redis, and
// with the real job worker and retention sweeper in the same process. No port
// is opened and no process started, so each test can reach into the database
// and into the background work it triggers.
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { HealthProcessingService } from "@trustmesh/api";
import {
  createInterceptorStack,
  createLogger,
  createMetrics,
  createSealer,
  createTokenVerifier,
  parseKeyRing,
  type Sealer,
} from "@trustmesh/runtime";
import { type PostgresServer, type RedisServer, randomKeyEncryptionKeys, startPostgres, startRedis } from "@trustmesh/testkit";
import { Redis } from "ioredis";
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from "jose";
import pg from "pg";
import type { OcrEngine } from "../../src/extraction/ocr.ts";
import { createHealthMetrics } from "../../src/health-metrics.ts";
import type { Interpreter } from "../../src/interpretation/interpreter.ts";
import { createJobEvents } from "../../src/job-events.ts";
import { parseConsentVersions } from "../../src/service/context.ts";
import { createHealthProcessingServiceImpl } from "../../src/service/index.ts";
import { queueDepth } from "../../src/store/job-store.ts";
import { createHealthPrisma, type Prisma } from "../../src/store/prisma.ts";
import { createSweeper, type Sweeper } from "../../src/sweeper.ts";
import { createWorker, type Worker } from "../../src/worker.ts";

const migrationsDir = new URL("../../prisma/migrations", import.meta.url).pathname;
const issuer = "trustmesh-auth";

export type HealthClient = ReturnType<typeof createClient<typeof HealthProcessingService>>;

export interface HarnessOptions {
  interpreter: Interpreter;
  /** OCR for images and scanned pages. */
  ocr: OcrEngine;
  /** Attempts per job before it fails; 1 makes every failure final at once. */
  maxAttempts?: number;
  originalRetentionMs?: number;
}

export interface HandlerHarness {
  databaseUrl: string;
  prisma: Prisma;
  sealer: Sealer;
  /** A client calling as this user (with these roles); "anonymous" sends no token. */
  client(userId: string | "anonymous", roles?: string[]): Promise<HealthClient>;
  /** Rows of a query against the service's database. */
  query<T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]>;
  startWorker(): void;
  stopWorker(): Promise<void>;
  sweeper: Sweeper;
  close(): Promise<void>;
}

/** An OCR engine for tests whose documents all have a text layer: any call is a test failure. */
export const ocrNotExpected: OcrEngine = {
  recognize: () => Promise.reject(new Error("these tests use documents with a text layer; OCR was not expected")),
  close: async () => {},
};

export async function startHandlerHarness(options: HarnessOptions): Promise<HandlerHarness> {
  const [postgres, redisServer]: [PostgresServer, RedisServer] = await Promise.all([startPostgres(), startRedis()]);
  const databaseUrl = await postgres.createDatabase("hp_handlers", { migrationsDir });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
  let openConnections = 0;
  pool.on("connect", () => openConnections++);
  pool.on("remove", () => openConnections--);
  const prisma = createHealthPrisma(pool);
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  const logger = createLogger({ name: "health-processing", level: "silent" });
  const metrics = createMetrics({ serviceName: "health-processing" });
  const healthMetrics = createHealthMetrics(metrics, () => queueDepth(prisma));
  const events = createJobEvents(redis, logger);
  const keys = randomKeyEncryptionKeys();
  const sealer = createSealer(parseKeyRing(keys.ring), keys.activeId);
  const requiredConsentVersions = parseConsentVersions("");
  const originalRetentionMs = options.originalRetentionMs ?? 3_600_000;
  const maxAttempts = options.maxAttempts ?? 1;

  const impl = createHealthProcessingServiceImpl({
    prisma,
    sealer,
    events,
    metrics: healthMetrics,
    logger,
    requiredConsentVersions,
    originalRetentionMs,
    maxAttempts,
    watchPollMs: 500,
  });
  const signingKey = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const publicJwk = { ...(await exportJWK(signingKey.publicKey)), kid: "test-key", alg: "EdDSA" };
  const verifier = createTokenVerifier({ keys: createLocalJWKSet({ keys: [publicJwk] }), issuer, serviceName: "health-processing" });
  const interceptors = createInterceptorStack({
    domain: "health-processing.trustmesh.dev",
    logger,
    metrics,
    verifier,
    defaultTimeoutMs: 30_000,
    maxTimeoutMs: 60_000,
  });

  let worker: Worker | undefined;
  const sweeper = createSweeper({ intervalMs: 60_000 }, { prisma, logger, events, metrics: healthMetrics });

  return {
    databaseUrl,
    prisma,
    sealer,
    async client(userId, roles = []) {
      const token =
        userId === "anonymous"
          ? undefined
          : await new SignJWT({ token_kind: "user", roles })
              .setProtectedHeader({ alg: "EdDSA", kid: "test-key" })
              .setIssuer(issuer)
              .setAudience("trustmesh")
              .setSubject(userId)
              .setIssuedAt()
              .setExpirationTime("15m")
              .sign(signingKey.privateKey);
      // Each client has its own transport, whose client-side interceptor adds the token.
      const transport = createRouterTransport((router) => router.service(HealthProcessingService, impl), {
        router: { interceptors },
        transport: {
          interceptors: [
            (next) => (request) => {
              if (token !== undefined) request.header.set("authorization", `Bearer ${token}`);
              return next(request);
            },
          ],
        },
      });
      return createClient(HealthProcessingService, transport);
    },
    async query(sql, values = []) {
      return (await pool.query(sql, values)).rows;
    },
    startWorker() {
      worker ??= createWorker(
        {
          concurrency: 1,
          pollMs: 50,
          leaseMs: 5_000,
          jobTimeoutMs: 30_000,
          backoffMs: 100,
          backoffMaxMs: 1_000,
          resultRetentionMs: originalRetentionMs,
        },
        {
          prisma,
          sealer,
          pipeline: { ocr: options.ocr, interpreter: options.interpreter },
          events,
          metrics: healthMetrics,
          logger,
          requiredConsentVersions,
        },
      );
      worker.start();
    },
    async stopWorker() {
      await worker?.stop();
      worker = undefined;
    },
    sweeper,
    async close() {
      await worker?.stop();
      await sweeper.stop();
      await events.close();
      redis.disconnect();
      await prisma.$disconnect();
      await pool.end();
      // pool.end() resolves before its connections have closed; stopping the server
      // under them would make them fail mid-close, outside any query.
      for (const giveUpAt = Date.now() + 5_000; openConnections > 0 && Date.now() < giveUpAt; ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await Promise.all([redisServer.stop(), postgres.stop()]);
    },
  };
}
