// What an analysed image amounts to, for enrolment and for validation. Pure,
// so every outcome is tested without a model: the order of the checks is the
// contract's — one face, then quality, then presentation attack, then the match.
import type { MeasuredFace } from "./inference/types.ts";
import { gradeQuality, meetsGrade, type QualityAssessment, type QualityGrade } from "./quality.ts";
import { similarityScore } from "./similarity.ts";

export type FaceFailure = "no_face" | "multiple_faces" | "low_quality" | "spoof_suspected";
export type ValidationFailure = FaceFailure | "no_match";

export interface FacePolicy {
  qualityMin: QualityGrade;
  /** 0 to 100; 0 means scores are reported but never refuse. */
  livenessFloor: number;
}

export interface JudgedImage {
  facesDetected: number;
  /** The single face and its grade; absent when there was not exactly one. */
  face?: MeasuredFace;
  quality?: QualityAssessment;
  /** Undefined when the image passed every check. */
  failure?: FaceFailure;
  /** One sentence for the person; never biometric data. */
  message: string;
}

function passesLiveness(face: MeasuredFace, floor: number): boolean {
  return floor === 0 || (face.antiSpoofScore >= floor && face.livenessScore >= floor);
}

/** Judges the face of an image against the policy: the part enrolment and validation share. */
export function judgeImage(facesDetected: number, face: MeasuredFace | undefined, policy: FacePolicy): JudgedImage {
  if (facesDetected === 0 || (facesDetected === 1 && face === undefined)) {
    return { facesDetected: 0, failure: "no_face", message: "No face found in the image" };
  }
  if (facesDetected > 1 || face === undefined) {
    return {
      facesDetected,
      failure: "multiple_faces",
      message: `More than one face found (${facesDetected}); the image must show one person`,
    };
  }
  const quality = gradeQuality(face);
  if (!meetsGrade(quality.grade, policy.qualityMin)) {
    const reasons = quality.issues.map((issue) => issue.description).join("; ");
    return {
      facesDetected,
      face,
      quality,
      failure: "low_quality",
      message: `Face quality is ${quality.grade}, ${policy.qualityMin} needed: ${reasons}`,
    };
  }
  if (!passesLiveness(face, policy.livenessFloor)) {
    return {
      facesDetected,
      face,
      quality,
      failure: "spoof_suspected",
      message: `Possible photo or screen of a face: anti-spoof ${Math.round(face.antiSpoofScore)} and liveness ${Math.round(face.livenessScore)} must reach ${policy.livenessFloor}`,
    };
  }
  return { facesDetected, face, quality, message: "Face image is usable" };
}

export interface ValidationVerdict extends JudgedImage {
  status: "success" | "failed";
  failureReason?: ValidationFailure;
  /** Present when the face was compared: every outcome but no/several faces and low quality. */
  comparison?: { similarity: number; threshold: number; isMatch: boolean };
  /** The similarity for a comparison, else the detection confidence, else 0. */
  confidence: number;
}

/** The outcome of a validation attempt, given human's similarity of the face to the reference. */
export function judgeValidation(judged: JudgedImage, threshold: number): ValidationVerdict {
  const face = judged.face;
  const compared = face !== undefined && judged.failure !== "low_quality" && face.modelSimilarity !== undefined;
  const similarity = compared ? similarityScore(face.modelSimilarity as number) : undefined;
  const comparison = similarity === undefined ? undefined : { similarity, threshold, isMatch: similarity >= threshold };
  const confidence = comparison?.similarity ?? (face ? Math.round(face.detectionConfidence * 10) / 10 : 0);
  if (judged.failure) return { ...judged, status: "failed", failureReason: judged.failure, comparison, confidence };
  if (comparison === undefined) throw new Error("a usable face was not compared with the reference");
  if (!comparison.isMatch) {
    return {
      ...judged,
      status: "failed",
      failureReason: "no_match",
      comparison,
      confidence,
      message: "Face does not match the enrolled reference",
    };
  }
  return { ...judged, status: "success", comparison, confidence, message: "Face image is valid" };
}
