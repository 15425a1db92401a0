-- Health processing (issue #8): consent history, encrypted documents, the job queue,
-- sealed results and the hash-chained audit log.

CREATE TYPE "consent_type" AS ENUM ('TERMS_OF_SERVICE', 'PRIVACY_POLICY', 'MEDICAL_DATA_PROCESSING', 'AUTOMATED_INTERPRETATION', 'DATA_RETENTION');
CREATE TYPE "consent_action" AS ENUM ('GRANTED', 'WITHDRAWN');
CREATE TYPE "consent_source" AS ENUM ('WEB', 'MOBILE_APP', 'STAFF_ASSISTED');
CREATE TYPE "document_content_type" AS ENUM ('PDF', 'JPEG', 'PNG');
CREATE TYPE "job_status" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');
CREATE TYPE "job_stage" AS ENUM ('EXTRACTING_TEXT', 'PARSING_LAB_RESULTS', 'FLAGGING_RESULTS', 'INTERPRETING', 'STORING_RESULT');
CREATE TYPE "job_failure_reason" AS ENUM ('UNREADABLE_DOCUMENT', 'NO_TEXT_FOUND', 'NO_LAB_RESULTS_FOUND', 'TIMEOUT', 'INTERPRETER_UNAVAILABLE', 'ORIGINAL_EXPIRED', 'CONSENT_WITHDRAWN', 'INTERNAL');

-- Append-only consent history; the current state is derived from it.
CREATE TABLE "consent_record" (
    "id" UUID NOT NULL,
    "user_id" VARCHAR(128) NOT NULL,
    "type" "consent_type" NOT NULL,
    "action" "consent_action" NOT NULL,
    "version" VARCHAR(32) NOT NULL,
    "source" "consent_source" NOT NULL,
    "recorded_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "consent_record_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "consent_record_user_id_recorded_at_idx" ON "consent_record"("user_id", "recorded_at");

CREATE TABLE "document" (
    "id" UUID NOT NULL,
    "user_id" VARCHAR(128) NOT NULL,
    "file_name_sealed" BYTEA NOT NULL,
    "content_type" "document_content_type" NOT NULL,
    "size_bytes" INTEGER NOT NULL,
    "sha256" CHAR(64) NOT NULL,
    "idempotency_key" VARCHAR(128) NOT NULL,
    "request_hash" BYTEA NOT NULL,
    "uploaded_at" TIMESTAMPTZ(6) NOT NULL,
    "original_expires_at" TIMESTAMPTZ(6) NOT NULL,
    "original_deleted_at" TIMESTAMPTZ(6),

    CONSTRAINT "document_pkey" PRIMARY KEY ("id"),
    -- The upload limit is 10 MB; the database holds the line too.
    CONSTRAINT "document_size_bytes_check" CHECK ("size_bytes" BETWEEN 1 AND 10485760)
);

CREATE UNIQUE INDEX "document_user_id_idempotency_key_key" ON "document"("user_id", "idempotency_key");
CREATE INDEX "document_original_expires_at_idx" ON "document"("original_expires_at");

CREATE TABLE "document_original" (
    "document_id" UUID NOT NULL,
    "sealed_data_key" BYTEA NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "document_original_pkey" PRIMARY KEY ("document_id"),
    CONSTRAINT "document_original_document_id_fkey" FOREIGN KEY ("document_id") REFERENCES "document"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- Also the queue: workers claim rows with SELECT ... FOR UPDATE SKIP LOCKED.
CREATE TABLE "job" (
    "id" UUID NOT NULL,
    "document_id" UUID NOT NULL,
    "user_id" VARCHAR(128) NOT NULL,
    "status" "job_status" NOT NULL,
    "stage" "job_stage",
    "progress_percent" INTEGER NOT NULL,
    "attempt" INTEGER NOT NULL,
    "max_attempts" INTEGER NOT NULL,
    "failure_reason" "job_failure_reason",
    "failure_message" VARCHAR(500),
    "created_at" TIMESTAMPTZ(6) NOT NULL,
    "started_at" TIMESTAMPTZ(6),
    "finished_at" TIMESTAMPTZ(6),
    "next_attempt_at" TIMESTAMPTZ(6) NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL,
    "lease_token" UUID,
    "lease_owner" VARCHAR(128),
    "lease_expires_at" TIMESTAMPTZ(6),

    CONSTRAINT "job_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "job_document_id_fkey" FOREIGN KEY ("document_id") REFERENCES "document"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "job_progress_percent_check" CHECK ("progress_percent" BETWEEN 0 AND 100),
    CONSTRAINT "job_attempt_check" CHECK ("attempt" >= 0 AND "attempt" <= "max_attempts"),
    -- A running job always has a lease; nothing else does.
    CONSTRAINT "job_lease_check" CHECK ((("status" = 'RUNNING') = ("lease_token" IS NOT NULL)) AND (("lease_token" IS NULL) = ("lease_expires_at" IS NULL)))
);

CREATE UNIQUE INDEX "job_document_id_key" ON "job"("document_id");
CREATE INDEX "job_status_next_attempt_at_idx" ON "job"("status", "next_attempt_at");
CREATE INDEX "job_user_id_created_at_id_idx" ON "job"("user_id", "created_at" DESC, "id" DESC);

CREATE TABLE "lab_report_result" (
    "job_id" UUID NOT NULL,
    "user_id" VARCHAR(128) NOT NULL,
    "result_sealed" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL,
    "expires_at" TIMESTAMPTZ(6),

    CONSTRAINT "lab_report_result_pkey" PRIMARY KEY ("job_id"),
    CONSTRAINT "lab_report_result_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "job"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "lab_report_result_user_id_idx" ON "lab_report_result"("user_id");
CREATE INDEX "lab_report_result_expires_at_idx" ON "lab_report_result"("expires_at");

CREATE TABLE "audit_entry" (
    "sequence" BIGINT NOT NULL,
    "id" UUID NOT NULL,
    "actor" VARCHAR(160) NOT NULL,
    "action" VARCHAR(64) NOT NULL,
    "resource_type" VARCHAR(32) NOT NULL,
    "resource_id" VARCHAR(128) NOT NULL,
    "request_id" VARCHAR(128) NOT NULL,
    "recorded_at" TIMESTAMPTZ(6) NOT NULL,
    "previous_hash" BYTEA NOT NULL,
    "entry_hash" BYTEA NOT NULL,

    CONSTRAINT "audit_entry_pkey" PRIMARY KEY ("sequence"),
    CONSTRAINT "audit_entry_sequence_check" CHECK ("sequence" >= 1)
);

CREATE UNIQUE INDEX "audit_entry_id_key" ON "audit_entry"("id");

-- The service only ever appends to the audit log. The hash chain detects changes made
-- by someone who can switch this off (a superuser); this stops everyone else.
CREATE FUNCTION "audit_entry_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only';
END;
$$;

CREATE TRIGGER "audit_entry_append_only"
    BEFORE UPDATE OR DELETE ON "audit_entry"
    FOR EACH ROW EXECUTE FUNCTION "audit_entry_refuse_change"();
