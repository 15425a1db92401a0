// Validation records as the service stores them, for tests that need many of
// them at chosen times without running the model for each.
import { randomUUID } from "node:crypto";
import type { IdempotencyEntry, NewFaceReference, NewFaceValidation } from "../../src/store.ts";

export const dayMs = 24 * 60 * 60_000;
export const retentionMs = 30 * dayMs;

export function referenceFor(userId: string, enrolledAt = new Date()): NewFaceReference {
  return {
    userId,
    referenceId: randomUUID(),
    embeddingSealed: new Uint8Array([1, 2, 3]),
    modelVersion: "test-model",
    face: {},
    liveness: {},
    consentAt: enrolledAt,
    recordedByService: "",
    enrolledAt,
  };
}

export function idempotencyFor(subjectUserId: string, key = randomUUID(), expiresAt = new Date(Date.now() + dayMs)): IdempotencyEntry {
  return { scope: `user:${subjectUserId}`, key, method: "test", requestHash: new Uint8Array(32), subjectUserId, expiresAt };
}

export type Outcome = "success" | "no_face" | "multiple_faces" | "low_quality" | "no_match" | "spoof_suspected";

export interface RecordShape {
  userId: string;
  registrationId: string;
  eventId: string;
  createdAt: Date;
  outcome: Outcome;
  quality?: "high" | "medium" | "low";
  similarity?: number;
  confidence?: number;
}

export function validationFor(shape: RecordShape): NewFaceValidation {
  const compared = shape.similarity !== undefined;
  return {
    id: randomUUID(),
    userId: shape.userId,
    registrationId: shape.registrationId,
    eventId: shape.eventId,
    status: shape.outcome === "success" ? "success" : "failed",
    failureReason: shape.outcome === "success" ? null : shape.outcome,
    message: shape.outcome,
    facesDetected: shape.outcome === "no_face" ? 0 : shape.outcome === "multiple_faces" ? 2 : 1,
    confidence: shape.confidence ?? shape.similarity ?? 0,
    quality: shape.quality ?? null,
    similarity: shape.similarity ?? null,
    threshold: compared ? 80 : null,
    isMatch: compared ? (shape.similarity ?? 0) >= 80 : null,
    face: null,
    liveness: null,
    referenceId: randomUUID(),
    modelVersion: "test-model",
    clientIp: "192.0.2.7",
    source: "web",
    recordedByService: "registration",
    createdAt: shape.createdAt,
    expiresAt: new Date(shape.createdAt.getTime() + retentionMs),
  };
}
