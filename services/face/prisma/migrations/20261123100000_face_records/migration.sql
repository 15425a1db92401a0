-- Face references and validation records (issue #9).

-- Idempotency records name the person their response is about, so erasing a
-- person's data erases the stored responses too, whoever made the call.
ALTER TABLE "idempotency_record" ADD COLUMN "subject_user_id" UUID;

CREATE INDEX "idempotency_record_subject_user_id_idx" ON "idempotency_record"("subject_user_id");

-- One reference face per user; the embedding only ever stored sealed.
CREATE TABLE "face_reference" (
    "user_id" UUID NOT NULL,
    "reference_id" UUID NOT NULL,
    "embedding_sealed" BYTEA NOT NULL,
    "model_version" VARCHAR(100) NOT NULL,
    "face" JSONB NOT NULL,
    "liveness" JSONB NOT NULL,
    "consent_at" TIMESTAMPTZ(6) NOT NULL,
    "recorded_by_service" VARCHAR(64) NOT NULL,
    "enrolled_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "face_reference_pkey" PRIMARY KEY ("user_id")
);

CREATE UNIQUE INDEX "face_reference_reference_id_key" ON "face_reference"("reference_id");

-- Validation attempts: user (partition) and registration (sort), one row per attempt.
CREATE TABLE "face_validation" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "registration_id" VARCHAR(128) NOT NULL,
    "event_id" VARCHAR(128) NOT NULL,
    "attempt" INTEGER NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "failure_reason" VARCHAR(32),
    "message" VARCHAR(200) NOT NULL,
    "faces_detected" INTEGER NOT NULL,
    "confidence" REAL NOT NULL,
    "quality" VARCHAR(8),
    "similarity" REAL,
    "threshold" REAL,
    "is_match" BOOLEAN,
    "face" JSONB,
    "liveness" JSONB,
    "reference_id" UUID NOT NULL,
    "model_version" VARCHAR(100) NOT NULL,
    "client_ip" VARCHAR(45) NOT NULL,
    "source" VARCHAR(16) NOT NULL,
    "recorded_by_service" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "face_validation_pkey" PRIMARY KEY ("id"),
    -- The database refuses what the code must never write.
    CONSTRAINT "face_validation_attempt_check" CHECK ("attempt" >= 1),
    CONSTRAINT "face_validation_status_check" CHECK (
        ("status" = 'success' AND "failure_reason" IS NULL)
        OR ("status" = 'failed' AND "failure_reason" IN ('no_face', 'multiple_faces', 'low_quality', 'no_match', 'spoof_suspected'))
    ),
    CONSTRAINT "face_validation_quality_check" CHECK ("quality" IN ('high', 'medium', 'low')),
    CONSTRAINT "face_validation_confidence_check" CHECK ("confidence" >= 0 AND "confidence" <= 100),
    CONSTRAINT "face_validation_similarity_check" CHECK ("similarity" >= 0 AND "similarity" <= 100),
    CONSTRAINT "face_validation_source_check" CHECK ("source" IN ('unspecified', 'web', 'mobile_app', 'kiosk', 'back_office')),
    CONSTRAINT "face_validation_expiry_check" CHECK ("expires_at" > "created_at")
);

CREATE UNIQUE INDEX "face_validation_user_id_registration_id_attempt_key" ON "face_validation"("user_id", "registration_id", "attempt");

CREATE INDEX "face_validation_user_id_created_at_id_idx" ON "face_validation"("user_id", "created_at" DESC, "id" DESC);

CREATE INDEX "face_validation_event_id_created_at_id_idx" ON "face_validation"("event_id", "created_at" DESC, "id" DESC);

CREATE INDEX "face_validation_expires_at_idx" ON "face_validation"("expires_at");
