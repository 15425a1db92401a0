// Stored rows to contract messages and back. Enums are stored by short names
// ("success", "no_match", "high", "kiosk") so the tables read well in SQL and
// CHECK constraints can hold them; the maps below are the one translation.
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CaptureSource,
  type FaceDetection,
  FaceDetectionSchema,
  type FaceReference,
  FaceReferenceSchema,
  type FaceValidation,
  FaceValidationSchema,
  type LivenessCheck,
  LivenessCheckSchema,
  ValidationFailureReason,
  ValidationStatus,
} from "@trustmesh/api/trustmesh/face/v1/face_pb.js";
import type { ValidationFailure } from "./judgement.ts";
import type { FaceReference as ReferenceRow, FaceValidation as ValidationRow } from "./store.ts";

export const failureReasonOf: Record<ValidationFailure, ValidationFailureReason> = {
  no_face: ValidationFailureReason.NO_FACE,
  multiple_faces: ValidationFailureReason.MULTIPLE_FACES,
  low_quality: ValidationFailureReason.LOW_QUALITY,
  no_match: ValidationFailureReason.NO_MATCH,
  spoof_suspected: ValidationFailureReason.SPOOF_SUSPECTED,
};

const sourceNames = {
  [CaptureSource.UNSPECIFIED]: "unspecified",
  [CaptureSource.WEB]: "web",
  [CaptureSource.MOBILE_APP]: "mobile_app",
  [CaptureSource.KIOSK]: "kiosk",
  [CaptureSource.BACK_OFFICE]: "back_office",
} as const satisfies Record<CaptureSource, string>;

export type SourceName = (typeof sourceNames)[CaptureSource];

export function sourceNameOf(source: CaptureSource): SourceName {
  const name = sourceNames[source];
  // protovalidate admits defined values only; anything else is a bug here.
  if (name === undefined) throw new Error(`capture source ${source} has no stored name`);
  return name;
}

function sourceOf(name: string): CaptureSource {
  const found = Object.entries(sourceNames).find(([, stored]) => stored === name);
  if (!found) throw new Error(`stored capture source "${name}" is unknown`);
  return Number(found[0]) as CaptureSource;
}

function enumOf<K extends string, V>(map: Record<K, V>, name: string, what: string): V {
  if (!(name in map)) throw new Error(`stored ${what} "${name}" is unknown`);
  return map[name as K];
}

export function detectionToJson(detection: FaceDetection): JsonValue {
  return toJson(FaceDetectionSchema, detection);
}

export function livenessToJson(liveness: LivenessCheck): JsonValue {
  return toJson(LivenessCheckSchema, liveness);
}

export function toFaceValidation(row: ValidationRow): FaceValidation {
  const compared = row.similarity !== null && row.threshold !== null && row.isMatch !== null;
  return create(FaceValidationSchema, {
    validationId: row.id,
    userId: row.userId,
    registrationId: row.registrationId,
    eventId: row.eventId,
    attempt: row.attempt,
    status: row.status === "success" ? ValidationStatus.SUCCESS : ValidationStatus.FAILED,
    failureReason:
      row.failureReason === null ? ValidationFailureReason.UNSPECIFIED : enumOf(failureReasonOf, row.failureReason, "failure reason"),
    message: row.message,
    facesDetected: row.facesDetected,
    face: row.face === null ? undefined : fromJson(FaceDetectionSchema, row.face as JsonValue),
    comparison: compared ? { similarity: row.similarity ?? 0, threshold: row.threshold ?? 0, isMatch: row.isMatch ?? false } : undefined,
    liveness: row.liveness === null ? undefined : fromJson(LivenessCheckSchema, row.liveness as JsonValue),
    confidence: row.confidence,
    referenceId: row.referenceId,
    modelVersion: row.modelVersion,
    clientIp: row.clientIp,
    source: sourceOf(row.source),
    createdAt: timestampFromDate(row.createdAt),
    expiresAt: timestampFromDate(row.expiresAt),
    recordedByService: row.recordedByService,
  });
}

export function toFaceReference(row: ReferenceRow): FaceReference {
  return create(FaceReferenceSchema, {
    userId: row.userId,
    referenceId: row.referenceId,
    face: fromJson(FaceDetectionSchema, row.face as JsonValue),
    liveness: fromJson(LivenessCheckSchema, row.liveness as JsonValue),
    modelVersion: row.modelVersion,
    enrolledAt: timestampFromDate(row.enrolledAt),
  });
}
