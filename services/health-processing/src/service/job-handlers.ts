// UploadDocument, GetJob, WatchJob, ListJobs, RetryJob, GetResult, ExportFhir, DeleteDocument.
import { createHash, randomUUID } from "node:crypto";
import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { DocumentContentType, JobStatus, LabReportResultSchema } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import type {
  DeleteDocumentRequest,
  DeleteDocumentResponse,
  ExportFhirRequest,
  ExportFhirResponse,
  GetJobRequest,
  GetJobResponse,
  GetResultRequest,
  GetResultResponse,
  ListJobsRequest,
  ListJobsResponse,
  RetryJobRequest,
  RetryJobResponse,
  UploadDocumentRequest,
  UploadDocumentResponse,
  WatchJobRequest,
  WatchJobResponse,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_service_pb.js";
import { DeleteDocumentResponseSchema } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_service_pb.js";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "@trustmesh/runtime";
import { detectContentType } from "../documents/content-type.ts";
import { sealDocument } from "../documents/envelope.ts";
import { buildFhirBundle, fhirMediaType, fhirVersion } from "../fhir/export-bundle.ts";
import { isRetryable, toJobMessage } from "../job-view.ts";
import { fromDbFailureReason, fromDbJobStatus, toDbContentType, toDbJobStatus } from "../store/enums.ts";
import {
  deleteDocumentOfUser,
  findJobOfUser,
  findUploadByKey,
  insertUpload,
  type JobPageCursor,
  type JobWithDocument,
  listJobsOfUser,
  originalExists,
  readResult,
  requeueJob,
} from "../store/job-store.ts";
import { appendAudit, lockUser, transactionOptions } from "../store/prisma.ts";
import { auditEvent, type Caller, callerOf, consentRequired, consentStatusOf, type HandlerDependencies, recordAudit } from "./context.ts";

const defaultPageSize = 20;
const terminal = new Set([JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]);

function encodeCursor(job: JobWithDocument): string {
  return Buffer.from(JSON.stringify({ t: job.createdAt.toISOString(), i: job.id })).toString("base64url");
}

/** Parses a page token, refusing anything that is not one this service made. */
function decodeCursor(token: string): JobPageCursor | undefined {
  if (token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { t?: unknown; i?: unknown };
    const createdAt = typeof parsed.t === "string" ? new Date(parsed.t) : undefined;
    if (!createdAt || Number.isNaN(createdAt.getTime()) || typeof parsed.i !== "string" || !/^[0-9a-f-]{36}$/.test(parsed.i))
      throw new Error();
    return { createdAt, id: parsed.i };
  } catch {
    throw invalidArgument("page_token", "is not a token from a previous ListJobs response");
  }
}

export function createJobHandlers(dependencies: HandlerDependencies) {
  const { prisma, sealer } = dependencies;

  async function ownJob(caller: Caller, jobId: string): Promise<JobWithDocument> {
    const job = await findJobOfUser(prisma, jobId, caller.userId);
    // Another user's job answers exactly like a missing one, so ids cannot be probed.
    if (!job) throw notFound("job", jobId);
    return job;
  }

  async function succeededResult(caller: Caller, jobId: string, action: string) {
    const job = await ownJob(caller, jobId);
    if (job.status !== "SUCCEEDED") {
      throw failedPrecondition(`job ${jobId} has not succeeded (status ${job.status}); there is no result`, "RESULT_NOT_READY");
    }
    const stored = await readResult(prisma, jobId);
    if (!stored) throw notFound("result of job", jobId);
    await recordAudit(prisma, [auditEvent(caller, action, "result", jobId)]);
    return fromBinary(LabReportResultSchema, sealer.open(stored.resultSealed, `result:${jobId}`));
  }

  return {
    async uploadDocument(request: UploadDocumentRequest, context: HandlerContext): Promise<UploadDocumentResponse> {
      const caller = callerOf(context);
      const detected = await detectContentType(request.content);
      if ("rejected" in detected) {
        throw invalidArgument(
          "content",
          `must be a PDF, JPEG or PNG file by its content${detected.rejected ? `; it is ${detected.rejected}` : ""}`,
          "UNSUPPORTED_CONTENT_TYPE",
        );
      }
      const sha256 = createHash("sha256").update(request.content).digest("hex");
      const requestHash = createHash("sha256").update(`${sha256}\n${request.fileName}`).digest();
      const documentId = randomUUID();
      const jobId = randomUUID();
      const sealed = sealDocument(request.content, documentId, sealer);
      const uploadedAt = new Date();
      const row = await prisma.$transaction(async (transaction) => {
        await lockUser(transaction, caller.userId);
        const previous = await findUploadByKey(transaction, caller.userId, request.idempotencyKey);
        if (previous) {
          if (!Buffer.from(previous.document.requestHash).equals(requestHash)) {
            throw alreadyExists("idempotency_key: already used for a different upload", "IDEMPOTENCY_KEY_REUSED");
          }
          await appendAudit(transaction, [auditEvent(caller, "job.read", "job", previous.id)]);
          return previous;
        }
        const status = await consentStatusOf(transaction, caller.userId, dependencies.requiredConsentVersions);
        if (!status.processingAllowed) throw consentRequired(status.missingForProcessing);
        return insertUpload(
          transaction,
          {
            id: documentId,
            userId: caller.userId,
            fileNameSealed: sealer.seal(Buffer.from(request.fileName, "utf8"), `file-name:${documentId}`),
            contentType: toDbContentType(detected.type),
            sizeBytes: request.content.length,
            sha256,
            idempotencyKey: request.idempotencyKey,
            requestHash,
            uploadedAt,
            originalExpiresAt: new Date(uploadedAt.getTime() + dependencies.originalRetentionMs),
            ...sealed,
          },
          { id: jobId, maxAttempts: dependencies.maxAttempts },
          [auditEvent(caller, "document.upload", "document", documentId), auditEvent(caller, "job.create", "job", jobId)],
        );
      }, transactionOptions);
      if (row.id === jobId) {
        dependencies.metrics.uploads.inc({ content_type: DocumentContentType[detected.type] ?? "UNKNOWN" });
        dependencies.metrics.jobs.inc({ state: "QUEUED" });
      }
      return { $typeName: "trustmesh.healthprocessing.v1.UploadDocumentResponse", job: toJobMessage(row, sealer) };
    },

    async getJob(request: GetJobRequest, context: HandlerContext): Promise<GetJobResponse> {
      const caller = callerOf(context);
      const job = await ownJob(caller, request.jobId);
      await recordAudit(prisma, [auditEvent(caller, "job.read", "job", job.id)]);
      return { $typeName: "trustmesh.healthprocessing.v1.GetJobResponse", job: toJobMessage(job, sealer) };
    },

    async *watchJob(request: WatchJobRequest, context: HandlerContext): AsyncGenerator<WatchJobResponse> {
      const caller = callerOf(context);
      let job = await ownJob(caller, request.jobId);
      await recordAudit(prisma, [auditEvent(caller, "job.watch", "job", job.id)]);
      let wake: (() => void) | undefined;
      const unsubscribe = dependencies.events.subscribe(job.id, () => wake?.());
      try {
        let last = "";
        for (;;) {
          const message = toJobMessage(job, sealer);
          const fingerprint = `${job.status}:${job.stage}:${job.progressPercent}:${job.attempt}:${job.updatedAt.getTime()}`;
          if (fingerprint !== last) {
            last = fingerprint;
            yield { $typeName: "trustmesh.healthprocessing.v1.WatchJobResponse", job: message };
          }
          if (terminal.has(message.status)) return;
          // Wait for a notice, the poll interval, or the caller leaving.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, dependencies.watchPollMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
            context.signal.addEventListener("abort", wake, { once: true });
          });
          context.signal.throwIfAborted();
          const next = await findJobOfUser(prisma, job.id, caller.userId);
          if (!next) throw notFound("job", job.id);
          job = next;
        }
      } finally {
        unsubscribe();
      }
    },

    async listJobs(request: ListJobsRequest, context: HandlerContext): Promise<ListJobsResponse> {
      const caller = callerOf(context);
      const after = decodeCursor(request.pageToken);
      const limit = request.pageSize === 0 ? defaultPageSize : request.pageSize;
      const rows = await listJobsOfUser(prisma, caller.userId, {
        statuses: request.statuses.map(toDbJobStatus),
        ...(after ? { after } : {}),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      await recordAudit(prisma, [auditEvent(caller, "job.list", "job", caller.userId)]);
      const last = page.at(-1);
      return {
        $typeName: "trustmesh.healthprocessing.v1.ListJobsResponse",
        jobs: page.map((row) => toJobMessage(row, sealer)),
        nextPageToken: rows.length > limit && last ? encodeCursor(last) : "",
      };
    },

    async retryJob(request: RetryJobRequest, context: HandlerContext): Promise<RetryJobResponse> {
      const caller = callerOf(context);
      const row = await prisma.$transaction(async (transaction) => {
        await lockUser(transaction, caller.userId);
        const job = await findJobOfUser(transaction, request.jobId, caller.userId);
        if (!job) throw notFound("job", request.jobId);
        const status = fromDbJobStatus(job.status);
        if (status === JobStatus.QUEUED || status === JobStatus.RUNNING) return job;
        const reason = job.failureReason ? fromDbFailureReason(job.failureReason) : 0;
        const hasOriginal = await originalExists(transaction, job.documentId);
        if (!isRetryable(status, reason, !hasOriginal)) {
          throw failedPrecondition(
            `job ${job.id} is ${job.status}${job.failureReason ? ` (${job.failureReason})` : ""} and cannot be retried`,
            "JOB_NOT_RETRYABLE",
          );
        }
        const consent = await consentStatusOf(transaction, caller.userId, dependencies.requiredConsentVersions);
        if (!consent.processingAllowed) throw consentRequired(consent.missingForProcessing);
        await requeueJob(transaction, job.id, dependencies.maxAttempts);
        await appendAudit(transaction, [auditEvent(caller, "job.retry", "job", job.id)]);
        return (await findJobOfUser(transaction, job.id, caller.userId)) as JobWithDocument;
      }, transactionOptions);
      dependencies.events.publish(row.id);
      return { $typeName: "trustmesh.healthprocessing.v1.RetryJobResponse", job: toJobMessage(row, sealer) };
    },

    async getResult(request: GetResultRequest, context: HandlerContext): Promise<GetResultResponse> {
      const result = await succeededResult(callerOf(context), request.jobId, "result.read");
      return { $typeName: "trustmesh.healthprocessing.v1.GetResultResponse", result };
    },

    async exportFhir(request: ExportFhirRequest, context: HandlerContext): Promise<ExportFhirResponse> {
      const caller = callerOf(context);
      const result = await succeededResult(caller, request.jobId, "result.export");
      const exported = buildFhirBundle(result, caller.userId);
      return {
        $typeName: "trustmesh.healthprocessing.v1.ExportFhirResponse",
        bundleJson: exported.bundleJson,
        mediaType: fhirMediaType,
        fhirVersion,
        bundleId: exported.bundleId,
        generatedAt: timestampFromDate(exported.generatedAt),
      };
    },

    async deleteDocument(request: DeleteDocumentRequest, context: HandlerContext): Promise<DeleteDocumentResponse> {
      const caller = callerOf(context);
      const deleted = await deleteDocumentOfUser(prisma, request.documentId, caller.userId, ({ jobId }) => [
        auditEvent(caller, "document.delete", "document", request.documentId),
        ...(jobId ? [auditEvent(caller, "job.delete", "job", jobId)] : []),
      ]);
      if (!deleted) throw notFound("document", request.documentId);
      if (deleted.jobId) dependencies.events.publish(deleted.jobId);
      return create(DeleteDocumentResponseSchema, {
        documentId: request.documentId,
        originalDeleted: deleted.originalDeleted,
        resultDeleted: deleted.resultDeleted,
        deletedAt: timestampFromDate(new Date()),
      });
    },
  };
}
