// EnrollFace: one face of sufficient quality becomes the user's reference,
// its embedding sealed; enrolling again replaces the reference and erases the
// old embedding. Images that cannot serve as a reference are refused with
// FAILED_PRECONDITION and leave nothing behind.
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type EnrollFaceRequest,
  EnrollFaceRequestSchema,
  type EnrollFaceResponse,
  EnrollFaceResponseSchema,
} from "@trustmesh/api/trustmesh/face/v1/face_service_pb.js";
import { failedPrecondition, invalidArgument, principalOf, requestHashOf } from "@trustmesh/runtime";
import { sealEmbedding } from "../embedding.ts";
import { detectionOf, livenessOf } from "../face-report.ts";
import { idempotencyRetentionMs, replayOf, scopeOf } from "../idempotency.ts";
import { checkImageContent } from "../image-content.ts";
import { judgeImage } from "../judgement.ts";
import { detectionToJson, livenessToJson } from "../records.ts";
import { callerOf, deadlineAtMsOf, type FaceServiceDependencies } from "./dependencies.ts";

const method = "trustmesh.face.v1.FaceService/EnrollFace";

const refusalReasons = {
  no_face: "NO_FACE",
  multiple_faces: "MULTIPLE_FACES",
  low_quality: "LOW_QUALITY",
  spoof_suspected: "SPOOF_SUSPECTED",
} as const;

export function createEnrolFace(dependencies: FaceServiceDependencies) {
  const { store, inference, sealer, metrics, settings } = dependencies;
  const now = dependencies.now ?? (() => new Date());

  return async function enrollFace(request: EnrollFaceRequest, context: HandlerContext): Promise<EnrollFaceResponse> {
    checkImageContent(request.image);
    const scope = scopeOf(principalOf(context));
    const requestHash = requestHashOf(EnrollFaceRequestSchema, request);
    const earlier = await store.findIdempotency(scope, request.idempotencyKey);
    if (earlier) return replayOf(earlier, method, requestHash, EnrollFaceResponseSchema);

    const analysed = await inference.analyse({
      operation: "enrol",
      image: request.image,
      returnEmbedding: true,
      deadlineAtMs: deadlineAtMsOf(context, settings.defaultTimeoutMs),
      signal: context.signal,
    });
    if (analysed.kind === "undecodable")
      throw invalidArgument("image", `is not a decodable JPEG or PNG: ${analysed.reason}`, "IMAGE_UNDECODABLE");
    const judged = judgeImage(analysed.facesDetected, analysed.face, settings.enrolPolicy);
    metrics.quality.inc({ operation: "enrol", quality: judged.quality?.grade ?? "ungraded" });
    if (judged.failure || !judged.face?.embedding || !judged.quality) {
      const failure = judged.failure ?? "no_face";
      metrics.enrolments.inc({ outcome: failure });
      throw failedPrecondition(`image: ${judged.message} (${judged.facesDetected} faces detected)`, refusalReasons[failure], {
        faces_detected: String(judged.facesDetected),
      });
    }

    const enrolledAt = now();
    const referenceId = randomUUID();
    const face = detectionOf(judged.face, judged.quality);
    const liveness = livenessOf(judged.face, settings.enrolPolicy.livenessFloor);
    const reference = {
      userId: request.userId,
      referenceId,
      face,
      liveness,
      modelVersion: inference.modelVersion,
      enrolledAt: timestampFromDate(enrolledAt),
    };
    const respond = (replaced: boolean) => create(EnrollFaceResponseSchema, { reference, replacedPrevious: replaced });
    const saved = await store.saveReference(
      {
        userId: request.userId,
        referenceId,
        embeddingSealed: sealEmbedding(sealer, judged.face.embedding, request.userId, referenceId),
        modelVersion: inference.modelVersion,
        face: detectionToJson(face) as object,
        liveness: livenessToJson(liveness) as object,
        consentAt: enrolledAt,
        recordedByService: callerOf(context).serviceName,
        enrolledAt,
      },
      {
        scope,
        key: request.idempotencyKey,
        method,
        requestHash,
        subjectUserId: request.userId,
        expiresAt: new Date(enrolledAt.getTime() + idempotencyRetentionMs),
      },
      (replaced) => toBinary(EnrollFaceResponseSchema, respond(replaced)),
    );
    if (saved.kind === "replay") return replayOf(saved.record, method, requestHash, EnrollFaceResponseSchema);
    metrics.enrolments.inc({ outcome: "enrolled" });
    return respond(saved.value.replaced);
  };
}
