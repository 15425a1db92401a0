-- The credential service's first tables.

-- Idempotency records: a retried mutation returns its first result (DESIGN.md §2).
CREATE TABLE "idempotency_record" (
    "scope" VARCHAR(128) NOT NULL,
    "key" VARCHAR(128) NOT NULL,
    "method" VARCHAR(200) NOT NULL,
    "request_hash" BYTEA NOT NULL,
    "response" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "idempotency_record_pkey" PRIMARY KEY ("scope", "key")
);

CREATE INDEX "idempotency_record_expires_at_idx" ON "idempotency_record"("expires_at");

-- Transactional outbox: work committed together with the change that causes it (DESIGN.md §4).
CREATE TABLE "outbox_event" (
    "id" BIGSERIAL NOT NULL,
    "topic" VARCHAR(100) NOT NULL,
    "payload" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "available_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "processed_at" TIMESTAMPTZ(6),

    CONSTRAINT "outbox_event_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "outbox_event_processed_at_available_at_idx" ON "outbox_event"("processed_at", "available_at");
