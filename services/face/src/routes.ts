// What the face process serves. The inference workers load and warm the
// models before the servers start, so the process reports SERVING only once
// the first image can be analysed at full speed.
import { FaceService } from "@trustmesh/api";
import { createSealer, parseKeyRing, registration, type ServiceDefinition } from "@trustmesh/runtime";
// sharp must be loaded by the main thread before worker threads load it
// (sharp's documentation: its shared libraries must outlive every thread).
import "sharp";
import { faceConfigShape } from "./config.ts";
import { createFaceMetrics } from "./face-metrics.ts";
import { createInferencePool } from "./inference/inference-pool.ts";
import { createFaceServiceImpl } from "./service.ts";
import { createFaceStore } from "./store.ts";
import { startSweeper } from "./sweeper.ts";

export const faceDefinition: ServiceDefinition<typeof faceConfigShape> = {
  name: "face",
  configShape: faceConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  async createServices({ config, logger, metrics, pool, onStop }) {
    // Fail at start, not at the first enrolment, when the key ring is unusable.
    const sealer = createSealer(parseKeyRing(config.FACE_KEK_RING), config.FACE_KEK_ACTIVE_ID);
    const store = createFaceStore(pool);
    const faceMetrics = createFaceMetrics(metrics);
    const inference = await createInferencePool({
      workers: config.FACE_INFERENCE_WORKERS,
      queueMax: config.FACE_INFERENCE_QUEUE_MAX,
      warmUpTimeoutMs: config.FACE_WARM_UP_TIMEOUT_MS,
      model: { detectionConfidenceMin: config.FACE_DETECTION_CONFIDENCE_MIN / 100, facesDetectedMax: config.FACE_FACES_DETECTED_MAX },
      metrics: faceMetrics,
      logger,
    });
    onStop(() => inference.close());
    const sweeper = startSweeper({
      store,
      metrics: faceMetrics,
      logger,
      intervalMs: config.FACE_SWEEP_INTERVAL_MS,
      batchMax: config.FACE_SWEEP_BATCH_MAX,
    });
    onStop(() => sweeper.stop());
    const impl = createFaceServiceImpl({
      store,
      inference,
      sealer,
      metrics: faceMetrics,
      settings: {
        matchThreshold: config.FACE_MATCH_THRESHOLD,
        enrolPolicy: { qualityMin: config.FACE_ENROLL_QUALITY_MIN, livenessFloor: config.FACE_LIVENESS_FLOOR },
        validatePolicy: { qualityMin: config.FACE_VALIDATE_QUALITY_MIN, livenessFloor: config.FACE_LIVENESS_FLOOR },
        defaultTimeoutMs: config.RPC_DEFAULT_TIMEOUT_MS,
      },
    });
    return [registration(FaceService, impl)];
  },
};
