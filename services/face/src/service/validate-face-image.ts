// ValidateFaceImage: detect, grade and compare an image with the user's
// reference, and keep the attempt for 30 days. Problems with the image itself
// (no face, several, low quality, suspected spoof, no match) are recorded as
// failed attempts; problems with the request (not an image, no reference) are
// errors and leave no record.
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type ValidateFaceImageRequest,
  ValidateFaceImageRequestSchema,
  type ValidateFaceImageResponse,
  ValidateFaceImageResponseSchema,
} from "@trustmesh/api/trustmesh/face/v1/face_service_pb.js";
import { failedPrecondition, invalidArgument, peerAddressOf, principalOf, requestHashOf } from "@trustmesh/runtime";
import { openEmbedding } from "../embedding.ts";
import { detectionOf, livenessOf } from "../face-report.ts";
import { idempotencyRetentionMs, replayOf, scopeOf } from "../idempotency.ts";
import { checkImageContent } from "../image-content.ts";
import { judgeImage, judgeValidation, type ValidationVerdict } from "../judgement.ts";
import { detectionToJson, livenessToJson, sourceNameOf, toFaceValidation } from "../records.ts";
import type { FaceReference, NewFaceValidation } from "../store.ts";
import { callerOf, deadlineAtMsOf, type FaceServiceDependencies, validationRetentionMs } from "./dependencies.ts";

const method = "trustmesh.face.v1.FaceService/ValidateFaceImage";

function noReference(userId: string) {
  return failedPrecondition(`user_id: user ${userId} has no enrolled reference face; enrol one first`, "NO_REFERENCE");
}

export function createValidateFaceImage(dependencies: FaceServiceDependencies) {
  const { store, inference, sealer, metrics, settings } = dependencies;
  const now = dependencies.now ?? (() => new Date());

  function recordOf(
    request: ValidateFaceImageRequest,
    context: HandlerContext,
    reference: FaceReference,
    verdict: ValidationVerdict,
    createdAt: Date,
  ): NewFaceValidation {
    const { serviceName } = callerOf(context);
    const face = verdict.face && verdict.quality ? detectionOf(verdict.face, verdict.quality) : undefined;
    const liveness = verdict.face ? livenessOf(verdict.face, settings.validatePolicy.livenessFloor) : undefined;
    return {
      id: randomUUID(),
      userId: request.userId,
      registrationId: request.registrationId,
      eventId: request.eventId,
      status: verdict.status,
      failureReason: verdict.failureReason ?? null,
      message: verdict.message.slice(0, 200),
      facesDetected: verdict.facesDetected,
      confidence: verdict.confidence,
      quality: verdict.quality?.grade ?? null,
      similarity: verdict.comparison?.similarity ?? null,
      threshold: verdict.comparison?.threshold ?? null,
      isMatch: verdict.comparison?.isMatch ?? null,
      face: face ? (detectionToJson(face) as object) : null,
      liveness: liveness ? (livenessToJson(liveness) as object) : null,
      referenceId: reference.referenceId,
      modelVersion: inference.modelVersion,
      // Only an internal caller can speak for the end user's address; a user
      // calling directly is recorded at the address the call came from.
      clientIp: serviceName !== "" ? request.clientIp : peerAddressOf(context),
      source: sourceNameOf(request.source),
      recordedByService: serviceName,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + validationRetentionMs),
    };
  }

  function count(verdict: ValidationVerdict): void {
    metrics.validations.inc({ outcome: verdict.failureReason ?? "success" });
    metrics.quality.inc({ operation: "validate", quality: verdict.quality?.grade ?? "ungraded" });
    if (verdict.comparison) {
      metrics.matches.inc({ result: verdict.comparison.isMatch ? "match" : "no_match" });
      metrics.similarity.observe(verdict.comparison.similarity);
    }
  }

  return async function validateFaceImage(request: ValidateFaceImageRequest, context: HandlerContext): Promise<ValidateFaceImageResponse> {
    checkImageContent(request.image);
    const scope = scopeOf(principalOf(context));
    const requestHash = requestHashOf(ValidateFaceImageRequestSchema, request);
    const earlier = await store.findIdempotency(scope, request.idempotencyKey);
    if (earlier) return replayOf(earlier, method, requestHash, ValidateFaceImageResponseSchema);

    const reference = await store.findReference(request.userId);
    if (!reference) throw noReference(request.userId);
    if (reference.modelVersion !== inference.modelVersion) {
      throw failedPrecondition(
        `user_id: the reference face was enrolled with ${reference.modelVersion}, which this server's ${inference.modelVersion} cannot compare with; enrol again`,
        "REENROLMENT_REQUIRED",
      );
    }
    const analysed = await inference.analyse({
      operation: "validate",
      image: request.image,
      referenceEmbedding: openEmbedding(sealer, reference.embeddingSealed, reference.userId, reference.referenceId),
      returnEmbedding: false,
      deadlineAtMs: deadlineAtMsOf(context, settings.defaultTimeoutMs),
      signal: context.signal,
    });
    if (analysed.kind === "undecodable")
      throw invalidArgument("image", `is not a decodable JPEG or PNG: ${analysed.reason}`, "IMAGE_UNDECODABLE");
    const verdict = judgeValidation(judgeImage(analysed.facesDetected, analysed.face, settings.validatePolicy), settings.matchThreshold);

    const createdAt = now();
    const stored = await store.recordValidation(
      recordOf(request, context, reference, verdict, createdAt),
      {
        scope,
        key: request.idempotencyKey,
        method,
        requestHash,
        subjectUserId: request.userId,
        expiresAt: new Date(createdAt.getTime() + idempotencyRetentionMs),
      },
      (row) => toBinary(ValidateFaceImageResponseSchema, create(ValidateFaceImageResponseSchema, { validation: toFaceValidation(row) })),
    );
    if (stored.kind === "reference_gone") throw noReference(request.userId);
    if (stored.kind === "replay") return replayOf(stored.record, method, requestHash, ValidateFaceImageResponseSchema);
    count(verdict);
    return create(ValidateFaceImageResponseSchema, { validation: toFaceValidation(stored.value) });
  };
}
