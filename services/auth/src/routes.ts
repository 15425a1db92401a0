// What the auth process serves, wired from config: the handlers and their
// parts, the JWKS over plain HTTP, and auth's own token verifier, which reads
// keys from its database rather than over the network from itself.
import { AuthService } from "@trustmesh/api";
import {
  ConfigError,
  createSealer,
  type Logger,
  parseKeyRing,
  registration,
  type ServiceDefinition,
  type ServiceDependencies,
} from "@trustmesh/runtime";
import { createPrismaClient } from "@trustmesh/runtime/db";
import type pg from "pg";
import { createAuthMetrics } from "./auth-metrics.ts";
import { parseTrustedProxies } from "./client-address.ts";
import { createCodeHasher } from "./codes.ts";
import { authConfigShape } from "./config.ts";
import { createCredentialClient, createCredentialDelivery } from "./credential-delivery.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { createLockout } from "./lockout.ts";
import { secondFactorSettings } from "./mfa/config.ts";
import { createSecondFactorModules } from "./mfa/second-factors.ts";
import { createMfaChallenges } from "./mfa-challenges.ts";
import {
  createChannelNotifier,
  createDevOutboxNotifier,
  createDispatcher,
  createSmsWebhookNotifier,
  createSmtpNotifier,
  type Notifier,
} from "./notifier.ts";
import { createOutboxWorker } from "./outbox-worker.ts";
import { createPasswordHasher } from "./passwords.ts";
import { createRateLimits } from "./rate-limits.ts";
import type { AuthConfig, AuthServiceDependencies } from "./service/dependencies.ts";
import { jwksDocument } from "./service/jwks.ts";
import { contactVerifiedTopic } from "./service/verification.ts";
import { createAuthServiceImpl } from "./service.ts";
import { createSessionCache } from "./session-cache.ts";
import { activeSigningKey, createDatabaseKeySet, ensureSigningKey } from "./signing-keys.ts";
import { createAuthStore } from "./store.ts";
import { createTokenSigner } from "./tokens.ts";

/** Access tokens live at most this long (the config's ceiling), so retired keys are published this long after retiring. */
const accessTokenLifetimeMaxMs = 15 * 60_000;
/** Expired codes and idempotency records are swept this often. */
const sweepIntervalMs = 10 * 60_000;
/** Messages being delivered at once, at most; more are dropped and logged. */
const notificationsInFlightMax = 500;

function createNotifier(config: AuthConfig, dependencies: ServiceDependencies<typeof authConfigShape>, logger: Logger): Notifier {
  const outbox = createDevOutboxNotifier(dependencies.redis, config.AUTH_DEV_OUTBOX_MAX);
  let email = outbox;
  let sms = outbox;
  if (config.AUTH_EMAIL_NOTIFIER === "smtp") {
    if (!config.AUTH_SMTP_URL) throw new ConfigError([{ variable: "AUTH_SMTP_URL", message: "is required when AUTH_EMAIL_NOTIFIER=smtp" }]);
    email = createSmtpNotifier({ url: config.AUTH_SMTP_URL, from: config.AUTH_EMAIL_FROM, timeoutMs: config.AUTH_NOTIFIER_TIMEOUT_MS });
  }
  if (config.AUTH_SMS_NOTIFIER === "webhook") {
    if (!config.AUTH_SMS_WEBHOOK_URL)
      throw new ConfigError([{ variable: "AUTH_SMS_WEBHOOK_URL", message: "is required when AUTH_SMS_NOTIFIER=webhook" }]);
    sms = createSmsWebhookNotifier({
      url: config.AUTH_SMS_WEBHOOK_URL,
      token: config.AUTH_SMS_WEBHOOK_TOKEN,
      timeoutMs: config.AUTH_NOTIFIER_TIMEOUT_MS,
    });
  }
  if (email === outbox || sms === outbox) logger.warn("messages go to the development outbox (Redis list dev-outbox), not to people");
  return createChannelNotifier({ email, sms });
}

/** The parts built once per process (per pool: tests start several services in one process). */
const builtFor = new WeakMap<pg.Pool, Promise<AuthServiceDependencies>>();

async function build(dependencies: ServiceDependencies<typeof authConfigShape>): Promise<AuthServiceDependencies> {
  const { config, redis, logger } = dependencies;
  const keyRing = parseKeyRing(config.AUTH_KEK_RING);
  const sealer = createSealer(keyRing, config.AUTH_KEK_ACTIVE_ID);
  // One Prisma client on the service's pool for the core store and the second factors.
  const prisma = createPrismaClient(PrismaClient, { pool: dependencies.pool });
  const store = createAuthStore(prisma);
  const key = activeSigningKey(await ensureSigningKey(store, sealer, config.AUTH_SIGNING_KEY_VERSION), sealer);
  const metrics = createAuthMetrics(dependencies.metrics.registry, [contactVerifiedTopic]);
  return {
    config,
    store,
    redis,
    logger,
    metrics,
    mfa: createSecondFactorModules({ prisma, redis, sealer, keyRing, settings: secondFactorSettings(config) }),
    signer: createTokenSigner({
      key,
      issuer: config.AUTH_ISSUER,
      accessTokenTtlSeconds: config.AUTH_ACCESS_TOKEN_TTL_SECONDS,
      serviceTokenTtlSeconds: config.AUTH_SERVICE_TOKEN_TTL_SECONDS,
    }),
    passwords: await createPasswordHasher({
      memoryKib: config.AUTH_ARGON2_MEMORY_KIB,
      iterations: config.AUTH_ARGON2_ITERATIONS,
      parallelism: config.AUTH_ARGON2_PARALLELISM,
    }),
    codes: createCodeHasher(keyRing.get(config.AUTH_KEK_ACTIVE_ID) as Buffer, config.AUTH_CODE_LENGTH),
    rateLimits: createRateLimits(redis, {
      perIp: config.AUTH_RATE_LIMIT_PER_IP,
      perIdentifier: config.AUTH_RATE_LIMIT_PER_IDENTIFIER,
      windowSeconds: config.AUTH_RATE_LIMIT_WINDOW_SECONDS,
    }),
    lockout: createLockout(redis, {
      threshold: config.AUTH_LOCKOUT_THRESHOLD,
      windowMs: config.AUTH_LOCKOUT_WINDOW_SECONDS * 1000,
      baseLockMs: config.AUTH_LOCKOUT_BASE_SECONDS * 1000,
      maxLockMs: config.AUTH_LOCKOUT_MAX_SECONDS * 1000,
    }),
    sessions: createSessionCache(redis, store, config.AUTH_ACCESS_TOKEN_TTL_SECONDS),
    mfaChallenges: createMfaChallenges(redis, { ttlSeconds: config.AUTH_MFA_TOKEN_TTL_SECONDS, attemptsMax: config.AUTH_MFA_ATTEMPTS_MAX }),
    dispatcher: createDispatcher({
      notifier: createNotifier(config, dependencies, logger),
      logger,
      inFlightMax: notificationsInFlightMax,
      onResult: (notification, ok) =>
        metrics.notifications.inc({ channel: notification.channel, kind: notification.kind, outcome: ok ? "sent" : "failed" }),
    }),
    trustedProxies: parseTrustedProxies(config.AUTH_TRUSTED_PROXIES),
    retiredKeyPublishMs: accessTokenLifetimeMaxMs,
  };
}

/**
 * The housekeeping sweep and, when AUTH_CREDENTIAL_GRPC_URL is set, the
 * worker that hands ContactVerified events to credential; both end when the
 * service stops, before its pool closes.
 */
function startBackgroundWork(parts: AuthServiceDependencies, dependencies: ServiceDependencies<typeof authConfigShape>): void {
  const { store, logger, config, metrics } = parts;
  const sweep = setInterval(() => {
    store.deleteExpired(new Date()).catch((error: unknown) => logger.warn({ err: error }, "sweeping expired rows failed"));
  }, sweepIntervalMs);
  sweep.unref();
  dependencies.onStop(() => clearInterval(sweep));

  if (!config.AUTH_CREDENTIAL_GRPC_URL) {
    logger.info("AUTH_CREDENTIAL_GRPC_URL is not set: ContactVerified events wait in the outbox, no credential is issued");
    return;
  }
  const client = createCredentialClient({ baseUrl: config.AUTH_CREDENTIAL_GRPC_URL, signer: parts.signer, metrics: dependencies.metrics });
  const worker = createOutboxWorker({
    store,
    topic: contactVerifiedTopic,
    deliver: createCredentialDelivery(client),
    logger,
    onResult: (outcome) => metrics.outboxDeliveries.inc({ topic: contactVerifiedTopic, outcome }),
  });
  worker.start();
  dependencies.onStop(() => worker.stop());
}

/** The auth service definition. */
export function createAuthDefinition(): ServiceDefinition<typeof authConfigShape> {
  const partsOf = (dependencies: ServiceDependencies<typeof authConfigShape>) => {
    let parts = builtFor.get(dependencies.pool);
    if (!parts) {
      parts = build(dependencies);
      builtFor.set(dependencies.pool, parts);
    }
    return parts;
  };
  return {
    name: "auth",
    configShape: authConfigShape,
    migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
    async tokenKeys({ config, pool }) {
      const store = createAuthStore(createPrismaClient(PrismaClient, { pool }));
      const sealer = createSealer(parseKeyRing(config.AUTH_KEK_RING), config.AUTH_KEK_ACTIVE_ID);
      // Fail at start, not at the first login, when the key ring cannot open the signing key.
      activeSigningKey(await ensureSigningKey(store, sealer, config.AUTH_SIGNING_KEY_VERSION), sealer);
      return createDatabaseKeySet(store, accessTokenLifetimeMaxMs);
    },
    async createServices(dependencies) {
      const parts = await partsOf(dependencies);
      startBackgroundWork(parts, dependencies);
      const { store, retiredKeyPublishMs, config } = parts;
      dependencies.httpRoutes.get("/.well-known/jwks.json", () => jwksDocument(store, retiredKeyPublishMs, config.AUTH_JWKS_CACHE_SECONDS));
      return [registration(AuthService, createAuthServiceImpl(parts))];
    },
  };
}

export const authDefinition = createAuthDefinition();
