// The contract's view of one measured face: FaceDetection (box, detection
// confidence, quality, attributes) and LivenessCheck, built from what the
// models measured. Attributes are reported only where the model gave them.
import { create } from "@bufbuild/protobuf";
import {
  AgeRangeSchema,
  type FaceAttributes,
  FaceAttributesSchema,
  type FaceDetection,
  FaceDetectionSchema,
  FaceQuality,
  Gender,
  type LivenessCheck,
  LivenessCheckSchema,
} from "@trustmesh/api/trustmesh/face/v1/face_pb.js";
import type { MeasuredFace } from "./inference/types.ts";
import type { QualityAssessment, QualityGrade } from "./quality.ts";

/**
 * The age model gives a point estimate; the range around it is the model's
 * typical error, so that the range reads like Rekognition's AgeRange.
 */
export const ageRangeHalfWidthYears = 5;
/** A face counts as smiling when the emotion model's "happy" score reaches this (0 to 100). */
export const smileScoreMin = 50;

export const faceQualityOf: Record<QualityGrade, FaceQuality> = {
  low: FaceQuality.LOW,
  medium: FaceQuality.MEDIUM,
  high: FaceQuality.HIGH,
};

const round1 = (value: number) => Math.round(value * 10) / 10;

export function attributesOf(face: MeasuredFace): FaceAttributes {
  const attributes = create(FaceAttributesSchema, {});
  if (face.ageYears !== undefined) {
    attributes.ageRange = create(AgeRangeSchema, {
      lowYears: Math.max(0, Math.floor(face.ageYears - ageRangeHalfWidthYears)),
      highYears: Math.ceil(face.ageYears + ageRangeHalfWidthYears),
    });
  }
  if (face.gender !== undefined) {
    attributes.gender = face.gender === "female" ? Gender.FEMALE : Gender.MALE;
    attributes.genderConfidence = round1(face.genderConfidence ?? 0);
  }
  if (face.happiness !== undefined) {
    const smiling = face.happiness >= smileScoreMin;
    attributes.smiling = smiling;
    // Confidence in the value stated, as Rekognition's Smile.Confidence.
    attributes.smileConfidence = round1(smiling ? face.happiness : 100 - face.happiness);
  }
  return attributes;
}

export function detectionOf(face: MeasuredFace, quality: QualityAssessment): FaceDetection {
  return create(FaceDetectionSchema, {
    boundingBox: face.box,
    detectionConfidence: round1(face.detectionConfidence),
    quality: {
      sharpness: round1(face.sharpness),
      brightness: round1(face.brightness),
      faceWidthPx: face.widthPx,
      faceHeightPx: face.heightPx,
      pose: {
        yawDegrees: round1(face.pose.yawDegrees),
        pitchDegrees: round1(face.pose.pitchDegrees),
        rollDegrees: round1(face.pose.rollDegrees),
      },
      quality: faceQualityOf[quality.grade],
    },
    attributes: attributesOf(face),
  });
}

/** Both scores must reach the floor; a floor of 0 turns the check off. */
export function livenessOf(face: MeasuredFace, floor: number): LivenessCheck {
  const antiSpoofScore = round1(face.antiSpoofScore);
  const livenessScore = round1(face.livenessScore);
  return create(LivenessCheckSchema, {
    antiSpoofScore,
    livenessScore,
    floor,
    passed: floor === 0 || (antiSpoofScore >= floor && livenessScore >= floor),
  });
}
