// Variables health-processing reads besides the runtime's base ones (README: Configuration).
import { z } from "zod";

const positiveInt = z.coerce.number().int().positive();

export const healthProcessingConfigShape = {
  /**
   * Key-encryption keys, "id:base64(32 bytes)" comma separated. All of them open
   * old data; HEALTH_KEK_ACTIVE_ID wraps new documents' data keys and seals results.
   */
  HEALTH_KEK_RING: z.string().min(1),
  HEALTH_KEK_ACTIVE_ID: z.string().min(1),
  /** Version of each consent text users must have accepted, "TYPE=version" comma separated; unnamed types need "1". */
  HEALTH_CONSENT_VERSIONS: z.string().default(""),
  /** How long an uploaded original is kept (the sweeper deletes it after). */
  HEALTH_ORIGINAL_RETENTION_SECONDS: positiveInt.max(30 * 86_400).default(3600),
  HEALTH_SWEEP_INTERVAL_MS: positiveInt.min(100).max(3_600_000).default(60_000),
  /** How often the whole audit chain is verified in the background (also once at start). */
  HEALTH_AUDIT_VERIFY_INTERVAL_MS: positiveInt.min(1000).max(86_400_000).default(900_000),
  /** Whether this process runs the job worker (API-only replicas set false). */
  HEALTH_WORKER_ENABLED: z.enum(["true", "false"]).default("true"),
  /** Jobs processed at once by this process. */
  HEALTH_WORKER_CONCURRENCY: positiveInt.max(16).default(2),
  HEALTH_WORKER_POLL_MS: positiveInt.min(50).max(60_000).default(1000),
  /** Attempts per job before it fails, automatic retries included. */
  HEALTH_JOB_MAX_ATTEMPTS: positiveInt.max(10).default(3),
  /** Time one attempt may take across all stages. */
  HEALTH_JOB_TIMEOUT_MS: positiveInt.min(1000).max(600_000).default(120_000),
  /** A worker's hold on a job; renewed while it works, taken over by others once it lapses. */
  HEALTH_JOB_LEASE_MS: positiveInt.min(500).max(600_000).default(30_000),
  /** First retry delay; doubles per attempt up to HEALTH_RETRY_BACKOFF_MAX_MS. */
  HEALTH_RETRY_BACKOFF_MS: positiveInt.max(3_600_000).default(5_000),
  HEALTH_RETRY_BACKOFF_MAX_MS: positiveInt.max(3_600_000).default(300_000),
  /** The interpretation engine: only the built-in rules engine ships. */
  HEALTH_INTERPRETER: z.enum(["rules"]).default("rules"),
  /** How often an open WatchJob re-reads its job even without a Redis notice. */
  HEALTH_WATCH_POLL_MS: positiveInt.min(100).max(60_000).default(2000),
};
