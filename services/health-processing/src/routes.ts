// What the health-processing process serves and runs: the RPC handlers, and in
// the background the job worker, the retention sweeper and the audit-chain monitor.
import { HealthProcessingService } from "@trustmesh/api";
import { createSealer, parseKeyRing, registration, type ServiceDefinition } from "@trustmesh/runtime";
import { createAuditChainMonitor } from "./audit/audit-chain-monitor.ts";
import { healthProcessingConfigShape } from "./config.ts";
import { createOcrEngine } from "./extraction/ocr.ts";
import { createHealthMetrics } from "./health-metrics.ts";
import { createRulesInterpreter } from "./interpretation/rules-interpreter.ts";
import { createJobEvents } from "./job-events.ts";
import { parseConsentVersions } from "./service/context.ts";
import { createHealthProcessingServiceImpl } from "./service/index.ts";
import { queueDepth } from "./store/job-store.ts";
import { createHealthPrisma } from "./store/prisma.ts";
import { createSweeper } from "./sweeper.ts";
import { createWorker } from "./worker.ts";

export const healthProcessingDefinition: ServiceDefinition<typeof healthProcessingConfigShape> = {
  name: "health-processing",
  configShape: healthProcessingConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  createServices({ config, pool, redis, logger, metrics, onStop }) {
    const sealer = createSealer(parseKeyRing(config.HEALTH_KEK_RING), config.HEALTH_KEK_ACTIVE_ID);
    const requiredConsentVersions = parseConsentVersions(config.HEALTH_CONSENT_VERSIONS);
    const prisma = createHealthPrisma(pool);
    const events = createJobEvents(redis, logger);
    const healthMetrics = createHealthMetrics(metrics, () => queueDepth(prisma));
    const originalRetentionMs = config.HEALTH_ORIGINAL_RETENTION_SECONDS * 1000;
    const sweeper = createSweeper({ intervalMs: config.HEALTH_SWEEP_INTERVAL_MS }, { prisma, logger, events, metrics: healthMetrics });
    sweeper.start();
    onStop(() => sweeper.stop());
    const auditChainMonitor = createAuditChainMonitor(
      { intervalMs: config.HEALTH_AUDIT_VERIFY_INTERVAL_MS },
      { prisma, logger, metrics: healthMetrics },
    );
    auditChainMonitor.start();
    onStop(() => auditChainMonitor.stop());
    if (config.HEALTH_WORKER_ENABLED === "true") {
      const ocr = createOcrEngine({ poolSizeMax: config.HEALTH_WORKER_CONCURRENCY });
      const worker = createWorker(
        {
          concurrency: config.HEALTH_WORKER_CONCURRENCY,
          pollMs: config.HEALTH_WORKER_POLL_MS,
          leaseMs: config.HEALTH_JOB_LEASE_MS,
          jobTimeoutMs: config.HEALTH_JOB_TIMEOUT_MS,
          backoffMs: config.HEALTH_RETRY_BACKOFF_MS,
          backoffMaxMs: config.HEALTH_RETRY_BACKOFF_MAX_MS,
          resultRetentionMs: originalRetentionMs,
        },
        {
          prisma,
          sealer,
          pipeline: { ocr, interpreter: createRulesInterpreter() },
          events,
          metrics: healthMetrics,
          logger,
          requiredConsentVersions,
        },
      );
      worker.start();
      onStop(async () => {
        await worker.stop();
        await ocr.close();
      });
    }
    onStop(() => events.close());
    const impl = createHealthProcessingServiceImpl({
      prisma,
      sealer,
      events,
      metrics: healthMetrics,
      logger,
      requiredConsentVersions,
      originalRetentionMs,
      maxAttempts: config.HEALTH_JOB_MAX_ATTEMPTS,
      watchPollMs: config.HEALTH_WATCH_POLL_MS,
    });
    return [registration(HealthProcessingService, impl)];
  },
};
