// What passes between the service and its inference workers. Everything here
// crosses a thread boundary by structured clone, so it is plain data.

/** Settings every worker receives at start (Piscina's workerData). */
export interface FaceModelOptions {
  /** The detector's confidence below which a face is not counted, 0 to 1. */
  detectionConfidenceMin: number;
  /** Faces reported at most; each one costs a pass of every face model. */
  facesDetectedMax: number;
}

export interface InferenceTask {
  /** A JPEG or PNG, already checked by its magic bytes. */
  image: Uint8Array;
  /** The opened reference embedding to compare the face with (validation). */
  referenceEmbedding?: Float32Array;
  /** Return the face's embedding (enrolment). */
  returnEmbedding: boolean;
  /**
   * Epoch milliseconds after which the caller has given up. A worker that picks
   * the task up later skips it rather than spend a model pass nobody waits for.
   */
  deadlineAtMs: number;
}

export interface MeasuredPose {
  yawDegrees: number;
  pitchDegrees: number;
  rollDegrees: number;
}

/** The one face of an image, as the models measured it. Scores are 0 to 100. */
export interface MeasuredFace {
  /** Ratios of the image size (Rekognition's convention). */
  box: { left: number; top: number; width: number; height: number };
  /** Size of the face in the source image's pixels. */
  widthPx: number;
  heightPx: number;
  detectionConfidence: number;
  pose: MeasuredPose;
  sharpness: number;
  brightness: number;
  /** Point estimate of the age, where the model gave one. */
  ageYears?: number;
  gender?: "female" | "male";
  genderConfidence?: number;
  /** The emotion model's score for "happy", which is what a smile is read from. */
  happiness?: number;
  antiSpoofScore: number;
  livenessScore: number;
  /** Present when the task asked for it. */
  embedding?: Float32Array;
  /**
   * @vladmandic/human's similarity to the reference (match.similarity with
   * min 0 and max 1, so unnormalised), 0 to 1; present when a reference was given.
   */
  modelSimilarity?: number;
}

export type InferenceResult =
  | {
      kind: "analysed";
      /** Faces found with at least the configured detection confidence (capped at facesDetectedMax). */
      facesDetected: number;
      /** Present only when exactly one face was found. */
      face?: MeasuredFace;
      /** Time spent decoding and in the models, in milliseconds. */
      inferenceMs: number;
    }
  /** The bytes did not decode as an image (truncated, corrupt, too many pixels). */
  | { kind: "undecodable"; reason: string }
  /** The caller's deadline had passed when a worker got to the task. */
  | { kind: "expired" };

/** What a worker posts once its model is loaded and warm. */
export interface WorkerWarmMessage {
  kind: "face-worker-warm";
  modelVersion: string;
  warmUpMs: number;
}
