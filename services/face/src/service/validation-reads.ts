// The reads: one record, a user's history, their stats, the recent check and
// an event's list. Expired records are invisible even before the sweeper
// removes them; lists are newest first and bounded by their page size.
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ValidationStatus } from "@trustmesh/api/trustmesh/face/v1/face_pb.js";
import {
  type CheckRecentValidationRequest,
  type CheckRecentValidationResponse,
  CheckRecentValidationResponseSchema,
  type GetValidationHistoryRequest,
  type GetValidationHistoryResponse,
  GetValidationHistoryResponseSchema,
  type GetValidationRequest,
  type GetValidationResponse,
  GetValidationResponseSchema,
  type GetValidationStatsRequest,
  type GetValidationStatsResponse,
  GetValidationStatsResponseSchema,
  type ListEventValidationsRequest,
  type ListEventValidationsResponse,
  ListEventValidationsResponseSchema,
} from "@trustmesh/api/trustmesh/face/v1/face_service_pb.js";
import { notFound } from "@trustmesh/runtime";
import { decodePageToken, encodePageToken } from "../page-token.ts";
import { toFaceValidation } from "../records.ts";
import type { FaceValidation } from "../store.ts";
import { type FaceServiceDependencies, validationRetentionMs } from "./dependencies.ts";

/** Page sizes when the request leaves page_size at 0 (the contract's defaults). */
export const historyPageSizeDefault = 10;
export const eventPageSizeDefault = 100;

/** One row more than the page is read to learn whether another page follows. */
function page(rows: FaceValidation[], limit: number, query: string) {
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  const nextPageToken = rows.length > limit && last ? encodePageToken(query, { createdAt: last.createdAt, id: last.id }) : "";
  return { validations: shown.map(toFaceValidation), nextPageToken };
}

const statusNames = { [ValidationStatus.SUCCESS]: "success", [ValidationStatus.FAILED]: "failed" } as const;

export function createValidationReads(dependencies: FaceServiceDependencies) {
  const { store } = dependencies;
  const now = dependencies.now ?? (() => new Date());

  return {
    async getValidation(request: GetValidationRequest): Promise<GetValidationResponse> {
      const found = await store.latestValidation(request.userId, request.registrationId, now());
      if (!found) throw notFound("face validation for registration", request.registrationId);
      return create(GetValidationResponseSchema, { validation: toFaceValidation(found) });
    },

    async getValidationHistory(request: GetValidationHistoryRequest): Promise<GetValidationHistoryResponse> {
      const limit = request.pageSize || historyPageSizeDefault;
      const query = `history:${request.userId}`;
      const after = decodePageToken(query, request.pageToken);
      const rows = await store.validationHistory(request.userId, now(), after, limit + 1);
      return create(GetValidationHistoryResponseSchema, page(rows, limit, query));
    },

    async getValidationStats(request: GetValidationStatsRequest): Promise<GetValidationStatsResponse> {
      const stats = await store.validationStats(request.userId, now());
      const timestamp = (date: Date | null) => (date === null ? undefined : timestampFromDate(date));
      return create(GetValidationStatsResponseSchema, {
        userId: request.userId,
        totalAttempts: stats.total,
        successfulValidations: stats.successes,
        failedValidations: stats.failures,
        averageConfidence: stats.averageConfidence,
        averageSimilarity: stats.averageSimilarity,
        qualityBreakdown: { highCount: stats.high, mediumCount: stats.medium, lowCount: stats.low, ungradedCount: stats.ungraded },
        firstAttemptAt: timestamp(stats.firstAt),
        lastAttemptAt: timestamp(stats.lastAt),
        lastSuccessAt: timestamp(stats.lastSuccessAt),
      });
    },

    async checkRecentValidation(request: CheckRecentValidationRequest): Promise<CheckRecentValidationResponse> {
      const lookbackMs = request.lookback
        ? Number(request.lookback.seconds) * 1000 + Math.floor(request.lookback.nanos / 1_000_000)
        : validationRetentionMs;
      const at = now();
      const latest = await store.latestSuccess(request.userId, new Date(at.getTime() - lookbackMs), at);
      return create(CheckRecentValidationResponseSchema, {
        hasRecentValidation: latest !== undefined,
        lookback: durationFromMs(lookbackMs),
        latestSuccess: latest ? toFaceValidation(latest) : undefined,
      });
    },

    async listEventValidations(request: ListEventValidationsRequest): Promise<ListEventValidationsResponse> {
      const limit = request.pageSize || eventPageSizeDefault;
      const status = request.status === ValidationStatus.UNSPECIFIED ? undefined : statusNames[request.status];
      const query = `event:${request.eventId}:${status ?? "any"}:${request.latestAttemptOnly ? "latest" : "all"}`;
      const rows = await store.eventValidations({
        eventId: request.eventId,
        status,
        latestAttemptOnly: request.latestAttemptOnly,
        after: decodePageToken(query, request.pageToken),
        limit: limit + 1,
        now: now(),
      });
      return create(ListEventValidationsResponseSchema, page(rows, limit, query));
    },
  };
}
