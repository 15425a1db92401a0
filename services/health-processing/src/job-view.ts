// Database rows as the contract's Job and Document messages.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Job,
  JobFailureReason,
  JobSchema,
  JobStage,
  JobStatus,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import type { Sealer } from "@trustmesh/runtime";
import { fromDbContentType, fromDbFailureReason, fromDbJobStage, fromDbJobStatus } from "./store/enums.ts";
import type { JobWithDocument } from "./store/job-store.ts";

/** Failures a retry can cure; the others are about the document itself. */
const retryableReasons: ReadonlySet<JobFailureReason> = new Set([
  JobFailureReason.TIMEOUT,
  JobFailureReason.INTERPRETER_UNAVAILABLE,
  JobFailureReason.INTERNAL,
]);

export function isRetryable(status: JobStatus, reason: JobFailureReason, originalDeleted: boolean): boolean {
  return status === JobStatus.FAILED && retryableReasons.has(reason) && !originalDeleted;
}

const timestamp = (date: Date | null) => (date ? timestampFromDate(date) : undefined);

export function toJobMessage(row: JobWithDocument, sealer: Sealer): Job {
  const status = fromDbJobStatus(row.status);
  const reason = row.failureReason ? fromDbFailureReason(row.failureReason) : JobFailureReason.UNSPECIFIED;
  const document = row.document;
  return create(JobSchema, {
    jobId: row.id,
    document: {
      documentId: document.id,
      fileName: sealer.open(document.fileNameSealed, `file-name:${document.id}`).toString("utf8"),
      contentType: fromDbContentType(document.contentType),
      sizeBytes: BigInt(document.sizeBytes),
      sha256: document.sha256,
      uploadedAt: timestampFromDate(document.uploadedAt),
      originalExpiresAt: timestampFromDate(document.originalExpiresAt),
      originalDeletedAt: timestamp(document.originalDeletedAt),
    },
    status,
    stage: status === JobStatus.RUNNING && row.stage ? fromDbJobStage(row.stage) : JobStage.UNSPECIFIED,
    progressPercent: row.progressPercent,
    attempt: row.attempt,
    maxAttempts: row.maxAttempts,
    failureReason: reason,
    failureMessage: row.failureMessage ?? "",
    retryable: isRetryable(status, reason, document.originalDeletedAt !== null),
    createdAt: timestampFromDate(row.createdAt),
    startedAt: timestamp(row.startedAt),
    finishedAt: timestamp(row.finishedAt),
    nextAttemptAt: status === JobStatus.QUEUED && row.attempt > 0 ? timestampFromDate(row.nextAttemptAt) : undefined,
    updatedAt: timestampFromDate(row.updatedAt),
  });
}
