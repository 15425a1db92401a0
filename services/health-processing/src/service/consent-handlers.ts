// RecordConsent, GetConsentStatus, WithdrawConsent.
import { createHash } from "node:crypto";
import { create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { ConsentAction, type ConsentRecord, ConsentType } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import {
  type GetConsentStatusRequest,
  type GetConsentStatusResponse,
  type RecordConsentRequest,
  RecordConsentRequestSchema,
  type RecordConsentResponse,
  RecordConsentResponseSchema,
  type WithdrawConsentRequest,
  WithdrawConsentRequestSchema,
  type WithdrawConsentResponse,
  WithdrawConsentResponseSchema,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_service_pb.js";
import { alreadyExists } from "@trustmesh/runtime";
import { appendConsents, consentHistory, type StoredConsentRecord } from "../store/consent-store.ts";
import { cancelActiveJobs } from "../store/job-store.ts";
import { findIdempotencyRecord, saveIdempotencyRecord, setResultExpiry } from "../store/maintenance-store.ts";
import { appendAudit, lockUser, type Transaction, transactionOptions } from "../store/prisma.ts";
import { auditEvent, type Caller, callerOf, consentStatusOf, type HandlerDependencies, recordAudit } from "./context.ts";

/** Replays are answered for a day; after that the same key records again. */
const idempotencyWindowMs = 24 * 3600_000;

function toRecordMessage(record: StoredConsentRecord): ConsentRecord {
  return {
    $typeName: "trustmesh.healthprocessing.v1.ConsentRecord",
    consentId: record.id,
    type: record.type,
    action: record.action,
    version: record.version,
    source: record.source,
    recordedAt: timestampFromDate(record.recordedAt),
  };
}

/**
 * Runs a consent mutation once per idempotency key: a replay with the same body
 * returns the stored response, another body under the same key is refused. The
 * stored response is sealed, as it describes the user's consents.
 */
async function once<S extends DescMessage>(
  dependencies: HandlerDependencies,
  caller: Caller,
  method: string,
  requestBytes: Uint8Array,
  idempotencyKey: string,
  schema: S,
  run: (transaction: Transaction) => Promise<MessageShape<S>>,
): Promise<MessageShape<S>> {
  const requestHash = createHash("sha256").update(requestBytes).digest();
  const context = `idempotency:${caller.userId}:${idempotencyKey}`;
  return dependencies.prisma.$transaction(async (transaction) => {
    await lockUser(transaction, caller.userId);
    const previous = await findIdempotencyRecord(transaction, caller.userId, idempotencyKey);
    if (previous) {
      if (previous.method !== method || !Buffer.from(previous.requestHash).equals(requestHash)) {
        throw alreadyExists("idempotency_key: already used for a different request", "IDEMPOTENCY_KEY_REUSED");
      }
      return fromBinary(schema, dependencies.sealer.open(previous.response, context));
    }
    const response = await run(transaction);
    await saveIdempotencyRecord(transaction, {
      scope: caller.userId,
      key: idempotencyKey,
      method,
      requestHash,
      response: dependencies.sealer.seal(toBinary(schema, response), context),
      expiresAt: new Date(Date.now() + idempotencyWindowMs),
    });
    return response;
  }, transactionOptions);
}

function withoutKey<T extends { idempotencyKey: string }>(request: T): T {
  return { ...request, idempotencyKey: "" };
}

export function createConsentHandlers(dependencies: HandlerDependencies) {
  return {
    async recordConsent(request: RecordConsentRequest, context: HandlerContext): Promise<RecordConsentResponse> {
      const caller = callerOf(context);
      return once(
        dependencies,
        caller,
        "RecordConsent",
        toBinary(RecordConsentRequestSchema, withoutKey(request)),
        request.idempotencyKey,
        RecordConsentResponseSchema,
        async (transaction) => {
          const records = await appendConsents(
            transaction,
            caller.userId,
            request.consents.map((grant) => ({
              type: grant.type,
              action: ConsentAction.GRANTED,
              version: grant.version,
              source: request.source,
            })),
          );
          if (request.consents.some((grant) => grant.type === ConsentType.DATA_RETENTION))
            await setResultExpiry(transaction, caller.userId, null);
          await appendAudit(
            transaction,
            records.map((record) => auditEvent(caller, "consent.grant", "consent", record.id)),
          );
          const status = await consentStatusOf(transaction, caller.userId, dependencies.requiredConsentVersions);
          return create(RecordConsentResponseSchema, { records: records.map(toRecordMessage), status });
        },
      );
    },

    async getConsentStatus(request: GetConsentStatusRequest, context: HandlerContext): Promise<GetConsentStatusResponse> {
      const caller = callerOf(context);
      const [status, history] = await Promise.all([
        consentStatusOf(dependencies.prisma, caller.userId, dependencies.requiredConsentVersions),
        consentHistory(dependencies.prisma, caller.userId, request.historyLimit),
      ]);
      await recordAudit(dependencies.prisma, [auditEvent(caller, "consent.read", "consent", caller.userId)]);
      return { $typeName: "trustmesh.healthprocessing.v1.GetConsentStatusResponse", status, history: history.map(toRecordMessage) };
    },

    async withdrawConsent(request: WithdrawConsentRequest, context: HandlerContext): Promise<WithdrawConsentResponse> {
      const caller = callerOf(context);
      const response = await once(
        dependencies,
        caller,
        "WithdrawConsent",
        toBinary(WithdrawConsentRequestSchema, withoutKey(request)),
        request.idempotencyKey,
        WithdrawConsentResponseSchema,
        async (transaction) => {
          // A withdrawal records the version of the latest grant it withdraws, or "-" when there was none.
          const current = await consentStatusOf(transaction, caller.userId, dependencies.requiredConsentVersions);
          const records = await appendConsents(
            transaction,
            caller.userId,
            request.types.map((type) => ({
              type,
              action: ConsentAction.WITHDRAWN,
              version: current.consents.find((state) => state.type === type)?.grantedVersion || "-",
              source: request.source,
            })),
          );
          const status = await consentStatusOf(transaction, caller.userId, dependencies.requiredConsentVersions);
          const cancelledJobIds = status.processingAllowed
            ? []
            : await cancelActiveJobs(transaction, caller.userId, "Processing stopped because a required consent was withdrawn.");
          if (request.types.includes(ConsentType.DATA_RETENTION)) {
            await setResultExpiry(transaction, caller.userId, new Date(Date.now() + dependencies.originalRetentionMs));
          }
          await appendAudit(transaction, [
            ...records.map((record) => auditEvent(caller, "consent.withdraw", "consent", record.id)),
            ...cancelledJobIds.map((jobId) => auditEvent(caller, "job.cancel", "job", jobId)),
          ]);
          return create(WithdrawConsentResponseSchema, { records: records.map(toRecordMessage), status, cancelledJobIds });
        },
      );
      for (const jobId of response.cancelledJobIds) dependencies.events.publish(jobId);
      if (response.cancelledJobIds.length > 0) dependencies.metrics.jobs.inc({ state: "CANCELLED" }, response.cancelledJobIds.length);
      return response;
    },
  };
}
