// What the payments process serves and runs: the RPC handlers, and in the
// background the job worker and the sweeper, stopped through the runtime's
// onStop hooks after in-flight RPCs have drained.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AuthService, LedgerService, PaymentsService } from "@trustmesh/api";
import {
  createSealer,
  createServiceClient,
  createServiceTokenProvider,
  parseKeyRing,
  registration,
  type ServiceDefinition,
} from "@trustmesh/runtime";
import { paymentsConfigShape } from "./config.ts";
import { createGrpcContactDirectory } from "./contacts/contact-directory.ts";
import { parseFeeSchedule } from "./domain/fees.ts";
import { parseLimitSchedule } from "./domain/limits.ts";
import { createGrpcLedgerGateway } from "./ledger/grpc-ledger-gateway.ts";
import { createPaymentEvents } from "./payment-events.ts";
import { createPaymentsMetrics } from "./payments-metrics.ts";
import { createPaymentProcessor } from "./processing/processor.ts";
import { createSweeper } from "./processing/sweeper.ts";
import { createWorker } from "./processing/worker.ts";
import type { PaymentRail } from "./rails/payment-rail.ts";
import { createSandboxRail } from "./rails/sandbox-rail.ts";
import { createFingerprinter, createPaymentsServiceImpl } from "./service/index.ts";
import { queueDepth } from "./store/job-store.ts";
import { createPaymentsPrisma } from "./store/prisma.ts";

export const paymentsDefinition: ServiceDefinition<typeof paymentsConfigShape> = {
  name: "payments",
  configShape: paymentsConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  createServices({ config, pool, redis, logger, metrics, onStop }) {
    const keyRing = parseKeyRing(config.PAYMENTS_KEK_RING);
    const sealer = createSealer(keyRing, config.PAYMENTS_KEK_ACTIVE_ID);
    const fingerprinter = createFingerprinter(keyRing, config.PAYMENTS_KEK_ACTIVE_ID);
    const feeSchedule = parseFeeSchedule(config.PAYMENTS_FEE_SCHEDULE);
    const limitSchedule = parseLimitSchedule(config.PAYMENTS_LIMITS);
    const prisma = createPaymentsPrisma(pool);
    const paymentsMetrics = createPaymentsMetrics(metrics, () => queueDepth(prisma));
    const events = createPaymentEvents(redis, logger);
    onStop(() => events.close());

    // Service tokens from auth's IssueServiceToken, one per audience, cached until shortly before they expire.
    const authForTokens = createServiceClient(AuthService, { baseUrl: config.AUTH_GRPC_URL, metrics, defaultTimeoutMs: 5000 });
    const tokenFor = (audience: string) =>
      createServiceTokenProvider(async () => {
        const issued = await authForTokens.issueServiceToken({
          clientId: "payments",
          clientSecret: config.PAYMENTS_SERVICE_CLIENT_SECRET,
          audience,
        });
        return {
          token: issued.accessToken,
          expiresAtMs: issued.expiresAt ? timestampDate(issued.expiresAt).getTime() : Date.now() + 60_000,
        };
      });
    const ledger = createGrpcLedgerGateway(
      createServiceClient(LedgerService, {
        baseUrl: config.LEDGER_GRPC_URL,
        metrics,
        serviceToken: tokenFor("ledger"),
        defaultTimeoutMs: 10_000,
      }),
    );
    const directory = createGrpcContactDirectory(
      createServiceClient(AuthService, { baseUrl: config.AUTH_GRPC_URL, metrics, serviceToken: tokenFor("auth"), defaultTimeoutMs: 5000 }),
    );
    const sandbox = createSandboxRail({ failLateAfterMs: config.PAYMENTS_SANDBOX_FAIL_LATE_MS });
    const rails = new Map<string, PaymentRail>([[sandbox.name, sandbox]]);

    let pokeWorker = () => {};
    if (config.PAYMENTS_WORKER_ENABLED === "true") {
      const processor = createPaymentProcessor(
        {
          transferReservationMs: config.PAYMENTS_TRANSFER_RESERVATION_MS,
          railReservationMs: config.PAYMENTS_RAIL_RESERVATION_MS,
          claimReservationGraceMs: 86_400_000,
          railPollMs: config.PAYMENTS_RAIL_POLL_MS,
        },
        { prisma, ledger, rails, metrics: paymentsMetrics, events, logger },
      );
      const worker = createWorker(
        {
          concurrency: config.PAYMENTS_WORKER_CONCURRENCY,
          pollMs: config.PAYMENTS_WORKER_POLL_MS,
          leaseMs: config.PAYMENTS_JOB_LEASE_MS,
          attemptsMax: config.PAYMENTS_JOB_ATTEMPTS_MAX,
          backoffMs: config.PAYMENTS_RETRY_BACKOFF_MS,
          backoffMaxMs: config.PAYMENTS_RETRY_BACKOFF_MAX_MS,
        },
        { prisma, processor, metrics: paymentsMetrics, logger },
      );
      const sweeper = createSweeper(
        { intervalMs: config.PAYMENTS_SWEEP_INTERVAL_MS, batchMax: 500 },
        { prisma, logger, onQueued: () => worker.poke() },
      );
      worker.start();
      sweeper.start();
      onStop(() => worker.stop());
      onStop(() => sweeper.stop());
      pokeWorker = () => worker.poke();
    }

    const impl = createPaymentsServiceImpl({
      prisma,
      directory,
      rails,
      defaultRail: sandbox.name,
      sealer,
      fingerprinter,
      events,
      metrics: paymentsMetrics,
      logger,
      feeSchedule,
      limitSchedule,
      options: {
        claimWindowMs: config.PAYMENTS_CLAIM_WINDOW_MS,
        requestDefaultTtlMs: config.PAYMENTS_REQUEST_TTL_MS,
        idempotencyRetentionMs: config.PAYMENTS_IDEMPOTENCY_RETENTION_MS,
        watchPollMs: config.PAYMENTS_WATCH_POLL_MS,
        watchMaxMs: config.PAYMENTS_WATCH_MAX_MS,
      },
      onJobQueued: () => pokeWorker(),
    });
    return [registration(PaymentsService, impl)];
  },
};
