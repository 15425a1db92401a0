// The handlers as DESIGN.md §6's second test level runs them: the service
// implementation behind createRouterTransport with the runtime's full
// interceptor stack (tokens verified against a real EdDSA key, proto rules,
// protovalidate, error mapping), on a real throwaway Postgres and Redis, with
// the real processor and worker. The ledger and auth's directory are the
// doubles in this folder, reached through the real gRPC gateways over router
// transports, because these tests are about payments' own logic.
import { type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import { AuthService, LedgerService, PaymentsService } from "@trustmesh/api";
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
import { createLocalJWKSet } from "jose";
import pg from "pg";
import { createGrpcContactDirectory } from "../../src/contacts/contact-directory.ts";
import { defaultFeeSchedule } from "../../src/domain/fees.ts";
import { defaultLimitSchedule, type LimitSchedule } from "../../src/domain/limits.ts";
import { createGrpcLedgerGateway } from "../../src/ledger/grpc-ledger-gateway.ts";
import { createPaymentEvents } from "../../src/payment-events.ts";
import { createPaymentsMetrics, type PaymentsMetrics } from "../../src/payments-metrics.ts";
import { createPaymentProcessor } from "../../src/processing/processor.ts";
import { createSweeper, type Sweeper } from "../../src/processing/sweeper.ts";
import { createWorker, type Worker } from "../../src/processing/worker.ts";
import type { PaymentRail } from "../../src/rails/payment-rail.ts";
import { createSandboxRail } from "../../src/rails/sandbox-rail.ts";
import { createFingerprinter, createPaymentsServiceImpl } from "../../src/service/index.ts";
import { queueDepth } from "../../src/store/job-store.ts";
import { createPaymentsPrisma, type Prisma } from "../../src/store/prisma.ts";
import { type AuthDouble, createAuthDouble } from "./auth-double.ts";
import { createLedgerDouble, type LedgerDouble } from "./ledger-double.ts";

export const migrationsDir = new URL("../../prisma/migrations", import.meta.url).pathname;

export type PaymentsClient = Client<typeof PaymentsService>;

export interface HarnessOptions {
  limitSchedule?: LimitSchedule;
  claimWindowMs?: number;
  attemptsMax?: number;
  failLateAfterMs?: number;
  poolMax?: number;
}

export interface Harness {
  prisma: Prisma;
  sealer: Sealer;
  ledger: LedgerDouble;
  auth: AuthDouble;
  metrics: PaymentsMetrics;
  registryText(): Promise<string>;
  sweeper: Sweeper;
  client(userId: string | "anonymous", roles?: string[]): Promise<PaymentsClient>;
  query<T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]>;
  /** Waits until the payment reaches one of the states, or fails the test. */
  waitForState(paymentId: string, states: string[], timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const [postgres, redisServer]: [PostgresServer, RedisServer] = await Promise.all([startPostgres(), startRedis()]);
  const databaseUrl = await postgres.createDatabase("payments_handlers", { migrationsDir });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolMax ?? 10 });
  let openConnections = 0;
  pool.on("connect", () => openConnections++);
  pool.on("remove", () => openConnections--);
  const prisma = createPaymentsPrisma(pool);
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  const logger = createLogger({ name: "payments", level: "silent" });
  const rpcMetrics = createMetrics({ serviceName: "payments" });
  const metrics = createPaymentsMetrics(rpcMetrics, () => queueDepth(prisma));
  const events = createPaymentEvents(redis, logger);
  const keys = randomKeyEncryptionKeys();
  const keyRing = parseKeyRing(keys.ring);
  const sealer = createSealer(keyRing, keys.activeId);
  const ledger = createLedgerDouble();
  const auth = await createAuthDouble();
  const ledgerGateway = createGrpcLedgerGateway(
    createClient(
      LedgerService,
      createRouterTransport((router) => router.service(LedgerService, ledger.impl)),
    ),
  );
  const directory = createGrpcContactDirectory(
    createClient(
      AuthService,
      createRouterTransport((router) => router.service(AuthService, auth.impl)),
    ),
  );
  const sandbox = createSandboxRail({ failLateAfterMs: options.failLateAfterMs ?? 300 });
  const rails = new Map<string, PaymentRail>([[sandbox.name, sandbox]]);
  const processor = createPaymentProcessor(
    { transferReservationMs: 3_600_000, railReservationMs: 3_600_000, claimReservationGraceMs: 60_000, railPollMs: 100 },
    { prisma, ledger: ledgerGateway, rails, metrics, events, logger },
  );
  const worker: Worker = createWorker(
    { concurrency: 4, pollMs: 50, leaseMs: 5_000, attemptsMax: options.attemptsMax ?? 5, backoffMs: 20, backoffMaxMs: 200 },
    { prisma, processor, metrics, logger },
  );
  const sweeper = createSweeper({ intervalMs: 60_000, batchMax: 100 }, { prisma, logger, onQueued: () => worker.poke() });
  worker.start();
  const impl = createPaymentsServiceImpl({
    prisma,
    directory,
    rails,
    defaultRail: "sandbox",
    sealer,
    fingerprinter: createFingerprinter(keyRing, keys.activeId),
    events,
    metrics,
    logger,
    feeSchedule: defaultFeeSchedule,
    limitSchedule: options.limitSchedule ?? defaultLimitSchedule,
    options: {
      claimWindowMs: options.claimWindowMs ?? 3_600_000,
      requestDefaultTtlMs: 86_400_000,
      idempotencyRetentionMs: 86_400_000,
      watchPollMs: 200,
      watchMaxMs: 20_000,
    },
    onJobQueued: () => worker.poke(),
  });
  const verifier = createTokenVerifier({
    keys: createLocalJWKSet({ keys: [auth.publicJwk] }),
    issuer: "trustmesh-auth",
    serviceName: "payments",
  });
  const interceptors = createInterceptorStack({
    domain: "payments.trustmesh.dev",
    logger,
    metrics: rpcMetrics,
    verifier,
    defaultTimeoutMs: 30_000,
    maxTimeoutMs: 60_000,
  });

  return {
    prisma,
    sealer,
    ledger,
    auth,
    metrics,
    registryText: () => rpcMetrics.registry.metrics(),
    sweeper,
    async client(userId, roles = []) {
      const token = userId === "anonymous" ? undefined : await auth.userToken(userId, roles);
      const transport = createRouterTransport((router) => router.service(PaymentsService, impl), {
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
      return createClient(PaymentsService, transport);
    },
    async query(sql, values = []) {
      return (await pool.query(sql, values)).rows;
    },
    async waitForState(paymentId, states, timeoutMs = 15_000) {
      const giveUpAt = Date.now() + timeoutMs;
      for (;;) {
        const rows = (await pool.query<{ state: string }>("SELECT state::text FROM payment WHERE id = $1", [paymentId])).rows;
        const state = rows[0]?.state ?? "MISSING";
        if (states.includes(state)) return state;
        if (Date.now() > giveUpAt) throw new Error(`payment ${paymentId} is ${state}, not ${states.join("|")}, after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async close() {
      await worker.stop();
      await sweeper.stop();
      await events.close();
      redis.disconnect();
      await prisma.$disconnect();
      await pool.end();
      for (const giveUpAt = Date.now() + 5_000; openConnections > 0 && Date.now() < giveUpAt; ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await Promise.all([redisServer.stop(), postgres.stop()]);
    },
  };
}
