// Variables payments reads besides the runtime's base ones (README: Configuration).
import { z } from "zod";

const positiveInt = z.coerce.number().int().positive();
const dayMs = 86_400_000;

export const paymentsConfigShape = {
  /** The ledger's gRPC address (http://ledger:50051). */
  LEDGER_GRPC_URL: z.url({ protocol: /^https?$/ }),
  /** payments' client secret for auth's IssueServiceToken (client id "payments"). */
  PAYMENTS_SERVICE_CLIENT_SECRET: z.string().min(32).max(256),
  /**
   * Key-encryption keys, "id:base64(32 bytes)" comma separated: seal US account
   * numbers and key the idempotency fingerprints. PAYMENTS_KEK_ACTIVE_ID seals new data.
   */
  PAYMENTS_KEK_RING: z.string().min(1),
  PAYMENTS_KEK_ACTIVE_ID: z.string().min(1),
  /** JSON overriding lines of the fee schedule (README: Fees). */
  PAYMENTS_FEE_SCHEDULE: z.string().optional(),
  /** JSON overriding lines of the limit schedule by tier (README: Limits). */
  PAYMENTS_LIMITS: z.string().optional(),
  /** How long a payment to an address without an account can be claimed. */
  PAYMENTS_CLAIM_WINDOW_MS: positiveInt
    .min(1000)
    .max(60 * dayMs)
    .default(14 * dayMs),
  /** A request's lifetime when the requester gives none. */
  PAYMENTS_REQUEST_TTL_MS: positiveInt
    .min(1000)
    .max(90 * dayMs)
    .default(30 * dayMs),
  /** How long idempotency keys are kept. */
  PAYMENTS_IDEMPOTENCY_RETENTION_MS: positiveInt
    .min(60_000)
    .max(90 * dayMs)
    .default(7 * dayMs),
  /** Reservation timeout of transfers and refunds; the ledger releases them itself after it. */
  PAYMENTS_TRANSFER_RESERVATION_MS: positiveInt
    .min(60_000)
    .max(30 * dayMs)
    .default(dayMs),
  /** Reservation timeout of deposits and withdrawals, which wait for the rail. */
  PAYMENTS_RAIL_RESERVATION_MS: positiveInt
    .min(60_000)
    .max(30 * dayMs)
    .default(7 * dayMs),
  /** Whether this process runs the job worker and the sweeper (API-only replicas set false). */
  PAYMENTS_WORKER_ENABLED: z.enum(["true", "false"]).default("true"),
  /** Payments processed at once by this process. */
  PAYMENTS_WORKER_CONCURRENCY: positiveInt.max(64).default(8),
  PAYMENTS_WORKER_POLL_MS: positiveInt.min(20).max(60_000).default(500),
  /** A worker's hold on a job; renewed while it works, taken over by others once it lapses. */
  PAYMENTS_JOB_LEASE_MS: positiveInt.min(500).max(600_000).default(30_000),
  /** Failed attempts in a row before a payment is given up (its reservation released, then FAILED). */
  PAYMENTS_JOB_ATTEMPTS_MAX: positiveInt.max(100).default(10),
  /** First retry delay; doubles per attempt up to PAYMENTS_RETRY_BACKOFF_MAX_MS. */
  PAYMENTS_RETRY_BACKOFF_MS: positiveInt.max(3_600_000).default(1000),
  PAYMENTS_RETRY_BACKOFF_MAX_MS: positiveInt.max(3_600_000).default(300_000),
  /** How often claim windows, request expiries and old idempotency keys are swept. */
  PAYMENTS_SWEEP_INTERVAL_MS: positiveInt.min(100).max(3_600_000).default(30_000),
  /** How often a pending rail submission is looked at again. */
  PAYMENTS_RAIL_POLL_MS: positiveInt.min(10).max(3_600_000).default(2000),
  /** How long a sandbox "fail late" submission stays pending before it fails. */
  PAYMENTS_SANDBOX_FAIL_LATE_MS: z.coerce.number().int().min(0).max(dayMs).default(5000),
  /** How often an open WatchPayment re-reads its payment without a Redis notice, and how long it may stay open. */
  PAYMENTS_WATCH_POLL_MS: positiveInt.min(50).max(60_000).default(2000),
  PAYMENTS_WATCH_MAX_MS: positiveInt.min(1000).max(3_600_000).default(300_000),
};
