// Variables face reads besides the runtime's base ones (README: Configuration).
// Scores are on Rekognition's 0 to 100 scale, so thresholds read the same here,
// in the contract and in the records.
import { availableParallelism } from "node:os";
import { z } from "zod";

const score = z.coerce.number().min(0).max(100);
const grade = z.enum(["low", "medium", "high"]);

export const faceConfigShape = {
  /**
   * Key-encryption keys for face embeddings at rest, "id:base64(32 bytes)" comma
   * separated. All of them open old embeddings; FACE_KEK_ACTIVE_ID seals new ones.
   */
  FACE_KEK_RING: z.string().min(1),
  FACE_KEK_ACTIVE_ID: z.string().min(1),
  /** Similarity (0 to 100) a face must reach to match its reference: Rekognition's default. */
  FACE_MATCH_THRESHOLD: score.default(80),
  /** Faces the detector is less sure of (0 to 100) are not counted: CompreFace's det_prob_threshold. */
  FACE_DETECTION_CONFIDENCE_MIN: score.default(50),
  /** Least quality grade a reference face must have. */
  FACE_ENROLL_QUALITY_MIN: grade.default("medium"),
  /** Least quality grade a validation image must have before it is compared. */
  FACE_VALIDATE_QUALITY_MIN: grade.default("medium"),
  /** Anti-spoof and liveness floor (0 to 100); 0 reports the scores but never refuses. */
  FACE_LIVENESS_FLOOR: score.default(0),
  /**
   * Inference worker threads. The default leaves one core to the event loop,
   * Postgres and the transports; each worker runs one inference at a time.
   */
  FACE_INFERENCE_WORKERS: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(Math.max(1, availableParallelism() - 1)),
  /** Images waiting for a worker at most; beyond it callers get RESOURCE_EXHAUSTED. */
  FACE_INFERENCE_QUEUE_MAX: z.coerce.number().int().min(1).max(1000).default(16),
  /** How long a worker may take to load and warm the model before start-up fails. */
  FACE_WARM_UP_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /** Faces the detector reports at most; each one costs a pass of every face model. */
  FACE_FACES_DETECTED_MAX: z.coerce.number().int().min(2).max(20).default(10),
  /** How often expired records are purged. */
  FACE_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
  /** Records deleted per statement by the sweeper, so one purge never holds long locks. */
  FACE_SWEEP_BATCH_MAX: z.coerce.number().int().min(1).max(10_000).default(1000),
};
