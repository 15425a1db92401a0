// face's business metrics, on the process registry the admin port serves.
// Every label takes values from a closed list, so series stay bounded.
import type { RpcMetrics } from "@trustmesh/runtime";
import { Counter, Gauge, Histogram } from "prom-client";

const validationOutcomes = ["success", "no_face", "multiple_faces", "low_quality", "no_match", "spoof_suspected"] as const;
export type ValidationOutcome = (typeof validationOutcomes)[number];
export type EnrolmentOutcome = "enrolled" | "no_face" | "multiple_faces" | "low_quality" | "spoof_suspected";
export type QualityLabel = "high" | "medium" | "low" | "ungraded";
export type InferenceOperation = "enrol" | "validate";

export interface FaceMetrics {
  readonly validations: Counter<"outcome">;
  readonly matches: Counter<"result">;
  readonly enrolments: Counter<"outcome">;
  readonly quality: Counter<"operation" | "quality">;
  readonly similarity: Histogram;
  readonly inferenceDuration: Histogram<"operation">;
  readonly inferenceWait: Histogram<"operation">;
  readonly inferenceRejected: Counter;
  readonly recordsSwept: Counter;
  /** Reports the pool's queue depth and size when /metrics is scraped; call once. */
  observePool(read: () => { queueDepth: number; workers: number }): void;
}

/** Inference takes 0.1 to 0.5 s per image on one core; the buckets centre there. */
const inferenceBuckets = [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10];

export function createFaceMetrics(metrics: RpcMetrics): FaceMetrics {
  const registers = [metrics.registry];
  const faceMetrics: FaceMetrics = {
    validations: new Counter({
      name: "face_validations_total",
      help: "Validation attempts recorded, by outcome (success or the failure reason).",
      labelNames: ["outcome"],
      registers,
    }),
    matches: new Counter({
      name: "face_matches_total",
      help: "Comparisons with a reference face, by result (match or no_match).",
      labelNames: ["result"],
      registers,
    }),
    enrolments: new Counter({
      name: "face_enrolments_total",
      help: "Enrolment attempts, by outcome (enrolled or why the image was refused).",
      labelNames: ["outcome"],
      registers,
    }),
    quality: new Counter({
      name: "face_quality_total",
      help: "Faces graded, by operation (enrol, validate) and quality grade.",
      labelNames: ["operation", "quality"],
      registers,
    }),
    similarity: new Histogram({
      name: "face_similarity",
      help: "Similarity of compared faces to their reference, 0 to 100.",
      buckets: [10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 100],
      registers,
    }),
    inferenceDuration: new Histogram({
      name: "face_inference_duration_seconds",
      help: "Time a worker spent decoding one image and running the face models on it, in seconds.",
      labelNames: ["operation"],
      buckets: inferenceBuckets,
      registers,
    }),
    inferenceWait: new Histogram({
      name: "face_inference_wait_seconds",
      help: "Time an image waited for an inference worker, in seconds.",
      labelNames: ["operation"],
      buckets: inferenceBuckets,
      registers,
    }),
    inferenceRejected: new Counter({
      name: "face_inference_rejected_total",
      help: "Images refused with RESOURCE_EXHAUSTED because the inference queue was full.",
      registers,
    }),
    recordsSwept: new Counter({
      name: "face_records_swept_total",
      help: "Expired validation records purged by the sweeper.",
      registers,
    }),
    observePool(read) {
      // Gauges read at scrape time, so they never lag the pool.
      new Gauge({
        name: "face_inference_queue_depth",
        help: "Images waiting for an inference worker.",
        registers,
        collect() {
          this.set(read().queueDepth);
        },
      });
      new Gauge({
        name: "face_inference_workers",
        help: "Inference worker threads.",
        registers,
        collect() {
          this.set(read().workers);
        },
      });
    },
  };
  // Every outcome and result exists from the start, at 0, so rates and the match
  // rate are defined before the first validation and dashboards show a line at 0.
  for (const outcome of validationOutcomes) faceMetrics.validations.inc({ outcome }, 0);
  for (const result of ["match", "no_match"]) faceMetrics.matches.inc({ result }, 0);
  return faceMetrics;
}
