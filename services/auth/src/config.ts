// Variables auth reads besides the runtime's base ones. Every one has a
// default that is safe for production except where noted; the README's
// Configuration table lists them all.
import { z } from "zod";
import { secondFactorConfigShape } from "./mfa/config.ts";
import { serviceClientsSchema } from "./service-clients.ts";

const seconds = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
const count = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/** JSON text parsed, with a readable issue instead of a thrown SyntaxError. */
const jsonText = z.string().transform((value, context) => {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    context.addIssue({ code: "custom", message: "must be JSON" });
    return z.NEVER;
  }
});

export const authConfigShape = {
  /**
   * Key-encryption keys for secrets at rest, "id:base64(32 bytes)" comma
   * separated. All of them open old data; AUTH_KEK_ACTIVE_ID seals new data.
   */
  AUTH_KEK_RING: z.string().min(1),
  AUTH_KEK_ACTIVE_ID: z.string().min(1),
  /** How long clients may cache GetJwks' answer. */
  AUTH_JWKS_CACHE_SECONDS: seconds(10, 86_400, 300),
  /** Changing this rotates the signing key at the next start (README: Key rotation). */
  AUTH_SIGNING_KEY_VERSION: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .default("1"),

  /** Access tokens: short, because other services learn of a revoked session only when its token expires. */
  AUTH_ACCESS_TOKEN_TTL_SECONDS: seconds(30, 900, 300),
  /** A refresh token unused this long expires (idle timeout). */
  AUTH_REFRESH_TOKEN_IDLE_SECONDS: seconds(60, 90 * 86_400, 14 * 86_400),
  /** A session ends this long after sign-in however active it is. */
  AUTH_SESSION_LIFETIME_SECONDS: seconds(300, 365 * 86_400, 30 * 86_400),
  /** Service tokens from IssueServiceToken. */
  AUTH_SERVICE_TOKEN_TTL_SECONDS: seconds(30, 900, 600),
  /** Internal service clients: {"payments": {"secretHash": "$argon2id$...", "scopes": ["pkg.Service/Method" | "pkg.Service/*"]}}. */
  AUTH_SERVICE_CLIENTS: jsonText.default({}).pipe(serviceClientsSchema),

  /** Password policy: at least this many characters (the contract's floor is 8). */
  AUTH_PASSWORD_MIN_LENGTH: count(8, 128, 10),
  /** argon2id parameters; OWASP's first recommendation (19 MiB, 2 passes, 1 lane). */
  AUTH_ARGON2_MEMORY_KIB: count(8_192, 1_048_576, 19_456),
  AUTH_ARGON2_ITERATIONS: count(1, 10, 2),
  AUTH_ARGON2_PARALLELISM: count(1, 16, 1),
  /** Login refuses an account none of whose contacts is verified. */
  AUTH_REQUIRE_VERIFIED_CONTACT: z.stringbool().default(true),

  /** Failed password attempts before an account locks. */
  AUTH_LOCKOUT_THRESHOLD: count(1, 1000, 5),
  /** Failures older than this are forgotten. */
  AUTH_LOCKOUT_WINDOW_SECONDS: seconds(60, 86_400, 900),
  /** The first lockout lasts this long; each further one within a day twice as long as the last. */
  AUTH_LOCKOUT_BASE_SECONDS: seconds(1, 86_400, 60),
  AUTH_LOCKOUT_MAX_SECONDS: seconds(1, 7 * 86_400, 3600),

  /** Public ceremony calls (sign-up, login, codes, refresh ...) per client IP per window. */
  AUTH_RATE_LIMIT_PER_IP: count(1, 1_000_000, 120),
  /** The same calls per identifier (email, phone, mfa token, client id) per window. */
  AUTH_RATE_LIMIT_PER_IDENTIFIER: count(1, 1_000_000, 20),
  AUTH_RATE_LIMIT_WINDOW_SECONDS: seconds(1, 86_400, 60),
  /** Proxies (CIDRs or addresses, comma separated) whose X-Forwarded-For is believed. */
  AUTH_TRUSTED_PROXIES: z.string().default(""),

  /** The half-finished sign-in that waits for a second factor. */
  AUTH_MFA_TOKEN_TTL_SECONDS: seconds(30, 3600, 300),
  AUTH_MFA_ATTEMPTS_MAX: count(1, 100, 5),
  /** TOTP, recovery codes and passkeys: WebAuthn relying party, origins, limits (docs/second-factors.md). */
  ...secondFactorConfigShape,

  /** Verification and password-reset codes. */
  AUTH_CODE_LENGTH: count(6, 10, 6),
  AUTH_CODE_TTL_SECONDS: seconds(60, 86_400, 900),
  AUTH_CODE_ATTEMPTS_MAX: count(1, 100, 5),
  AUTH_CODE_RESEND_SECONDS: seconds(1, 3600, 60),

  /** Where email goes: "outbox" (development: a Redis list) or "smtp". */
  AUTH_EMAIL_NOTIFIER: z.enum(["outbox", "smtp"]).default("outbox"),
  /** smtp(s)://user:password@host:port, for AUTH_EMAIL_NOTIFIER=smtp. */
  AUTH_SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  AUTH_EMAIL_FROM: z.string().min(3).max(254).default("Trustmesh <no-reply@trustmesh.invalid>"),
  /** Where SMS goes: "outbox" or "webhook" (POST JSON {to, body} to AUTH_SMS_WEBHOOK_URL). */
  AUTH_SMS_NOTIFIER: z.enum(["outbox", "webhook"]).default("outbox"),
  AUTH_SMS_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Sent as `Authorization: Bearer` to the SMS webhook. */
  AUTH_SMS_WEBHOOK_TOKEN: z.string().optional(),
  /** One delivery attempt may take this long. */
  AUTH_NOTIFIER_TIMEOUT_MS: count(100, 120_000, 10_000),
  /** Messages the development outbox keeps (newest). */
  AUTH_DEV_OUTBOX_MAX: count(10, 100_000, 1000),

  /**
   * credential's gRPC address (http://credential:50051). Set, a background
   * worker hands every ContactVerified event to its IssueCredential; unset,
   * the events wait in outbox_event and no credential is issued.
   */
  AUTH_CREDENTIAL_GRPC_URL: z.url({ protocol: /^https?$/ }).optional(),
};
