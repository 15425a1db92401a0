-- Payments: payments with their history and processing jobs, requests, payment
-- methods, limit usage and idempotency records (services/payments/README.md).

-- The scaffold's generic tables are replaced: idempotency records here point at
-- the resource they created, and the job queue is payment_job.
DROP TABLE "idempotency_record";
DROP TABLE "outbox_event";

CREATE TYPE "payment_kind" AS ENUM ('TRANSFER', 'DEPOSIT', 'WITHDRAWAL', 'REFUND');
CREATE TYPE "payment_state" AS ENUM ('CREATED', 'PROCESSING', 'AWAITING_CLAIM', 'COMPLETED', 'FAILED', 'EXPIRED', 'PARTIALLY_REFUNDED', 'REFUNDED');
CREATE TYPE "payment_priority" AS ENUM ('STANDARD', 'EXPRESS', 'INSTANT');
CREATE TYPE "party_kind" AS ENUM ('USER_ID', 'EMAIL', 'PHONE');
CREATE TYPE "request_state" AS ENUM ('OPEN', 'PAID', 'DECLINED', 'CANCELED', 'EXPIRED');
CREATE TYPE "method_type" AS ENUM ('BANK_ACCOUNT', 'CARD', 'CRYPTO_WALLET');
CREATE TYPE "job_state" AS ENUM ('QUEUED', 'RUNNING', 'WAITING', 'DONE');

-- One movement of money. Amounts are minor units (NUMERIC(78,0), DESIGN.md §2).
CREATE TABLE "payment" (
    "id" UUID NOT NULL,
    "kind" "payment_kind" NOT NULL,
    "state" "payment_state" NOT NULL,
    -- Who made the payment: the sender, the depositor, or the refunding recipient.
    "initiator_user_id" UUID NOT NULL,
    "sender_user_id" UUID,
    "recipient_user_id" UUID,
    "recipient_kind" "party_kind",
    "recipient_address" VARCHAR(254),
    "currency" VARCHAR(4) NOT NULL,
    "amount_minor" NUMERIC(78,0) NOT NULL,
    "fee_minor" NUMERIC(78,0) NOT NULL,
    "priority" "payment_priority" NOT NULL,
    "memo" VARCHAR(280) NOT NULL DEFAULT '',
    "payment_method_id" UUID,
    "request_id" UUID,
    "original_payment_id" UUID,
    -- For transfers: refunds completed, and refunds accepted (completed or in flight),
    -- which bounds new refunds so concurrent ones cannot return more than was paid.
    "refunded_minor" NUMERIC(78,0) NOT NULL DEFAULT 0,
    "refund_reserved_minor" NUMERIC(78,0) NOT NULL DEFAULT 0,
    "failure_reason" VARCHAR(40),
    "failure_message" VARCHAR(500),
    "claim_expires_at" TIMESTAMPTZ(6),
    "rail_reference" VARCHAR(128),
    -- The ledger's PENDING transaction reserving the money, once made.
    "pending_transaction_id" UUID,
    "ledger_transaction_ids" UUID[] NOT NULL DEFAULT '{}',
    -- The UTC day and month whose limit usage this payment counts in; NULL when it does not count.
    "limit_day" DATE,
    "limit_month" DATE,
    -- Set once processing gave up; the worker then releases any reservation and fails the payment.
    "abandon_requested" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(6) NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL,
    "completed_at" TIMESTAMPTZ(6),

    CONSTRAINT "payment_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "payment_amount_positive" CHECK ("amount_minor" > 0),
    CONSTRAINT "payment_fee_not_negative" CHECK ("fee_minor" >= 0),
    CONSTRAINT "payment_refunds_bounded" CHECK ("refunded_minor" >= 0 AND "refunded_minor" <= "refund_reserved_minor" AND "refund_reserved_minor" <= "amount_minor")
);

CREATE INDEX "payment_sender_user_id_created_at_idx" ON "payment"("sender_user_id", "created_at" DESC, "id" DESC);
CREATE INDEX "payment_recipient_user_id_created_at_idx" ON "payment"("recipient_user_id", "created_at" DESC, "id" DESC);
CREATE INDEX "payment_original_payment_id_idx" ON "payment"("original_payment_id");
-- The claim sweeper looks only at unclaimed payments.
CREATE INDEX "payment_claim_expires_at_idx" ON "payment"("claim_expires_at") WHERE "state" = 'AWAITING_CLAIM';

-- Every state change, oldest first.
CREATE TABLE "payment_state_change" (
    "id" BIGSERIAL NOT NULL,
    "payment_id" UUID NOT NULL,
    "from_state" "payment_state",
    "to_state" "payment_state" NOT NULL,
    "reason" VARCHAR(500) NOT NULL,
    "changed_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "payment_state_change_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "payment_state_change_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "payment"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "payment_state_change_payment_id_id_idx" ON "payment_state_change"("payment_id", "id");

-- The work queue: one row per payment, committed with the payment (DESIGN.md §4).
-- Workers claim rows with FOR UPDATE SKIP LOCKED under a lease.
CREATE TABLE "payment_job" (
    "payment_id" UUID NOT NULL,
    "state" "job_state" NOT NULL,
    "run_at" TIMESTAMPTZ(6) NOT NULL,
    -- Failed attempts since the last step that succeeded; reset by progress.
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lease_owner" VARCHAR(64),
    "lease_token" UUID,
    "lease_expires_at" TIMESTAMPTZ(6),
    "last_error" VARCHAR(500),
    "updated_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "payment_job_pkey" PRIMARY KEY ("payment_id"),
    CONSTRAINT "payment_job_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "payment"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "payment_job_runnable_idx" ON "payment_job"("run_at") WHERE "state" IN ('QUEUED', 'RUNNING');

-- A request for money.
CREATE TABLE "payment_request" (
    "id" UUID NOT NULL,
    "state" "request_state" NOT NULL,
    "requester_user_id" UUID NOT NULL,
    "payer_kind" "party_kind" NOT NULL,
    "payer_address" VARCHAR(254) NOT NULL,
    "payer_user_id" UUID,
    "currency" VARCHAR(4) NOT NULL,
    "amount_minor" NUMERIC(78,0) NOT NULL,
    "memo" VARCHAR(280) NOT NULL DEFAULT '',
    "decline_reason" VARCHAR(280) NOT NULL DEFAULT '',
    "payment_id" UUID,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "payment_request_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "payment_request_amount_positive" CHECK ("amount_minor" > 0)
);

CREATE INDEX "payment_request_requester_user_id_created_at_idx" ON "payment_request"("requester_user_id", "created_at" DESC, "id" DESC);
CREATE INDEX "payment_request_payer_user_id_created_at_idx" ON "payment_request"("payer_user_id", "created_at" DESC, "id" DESC);
CREATE INDEX "payment_request_expires_at_idx" ON "payment_request"("expires_at") WHERE "state" = 'OPEN';

-- A user's outside instrument, masked. A card's number and security code are
-- never stored; a US account number is stored only sealed (AES-256-GCM).
CREATE TABLE "payment_method" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "type" "method_type" NOT NULL,
    "label" VARCHAR(64) NOT NULL DEFAULT '',
    "currencies" VARCHAR(4)[] NOT NULL,
    "rail" VARCHAR(32) NOT NULL,
    "rail_token" VARCHAR(128) NOT NULL,
    "holder_name" VARCHAR(140) NOT NULL DEFAULT '',
    "country" VARCHAR(2),
    "last4" VARCHAR(4),
    "routing_number" VARCHAR(9),
    "bic" VARCHAR(11),
    "bank_account_type" VARCHAR(16),
    "account_number_sealed" BYTEA,
    "card_brand" VARCHAR(24),
    "expiry_month" INTEGER,
    "expiry_year" INTEGER,
    "crypto_network" VARCHAR(16),
    "crypto_address" VARCHAR(90),
    "created_at" TIMESTAMPTZ(6) NOT NULL,
    "removed_at" TIMESTAMPTZ(6),

    CONSTRAINT "payment_method_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "payment_method_user_id_created_at_idx" ON "payment_method"("user_id", "created_at" DESC, "id" DESC);

-- What a user has sent in one currency in one UTC day or month, counting
-- payments in flight. Checked and raised by one conditional UPDATE, whose row
-- lock serialises concurrent sends, so they cannot jointly pass a limit.
CREATE TABLE "limit_usage" (
    "user_id" UUID NOT NULL,
    "currency" VARCHAR(4) NOT NULL,
    "period" VARCHAR(8) NOT NULL,
    "period_start" DATE NOT NULL,
    "used_minor" NUMERIC(78,0) NOT NULL,

    CONSTRAINT "limit_usage_pkey" PRIMARY KEY ("user_id", "currency", "period", "period_start"),
    CONSTRAINT "limit_usage_used_not_negative" CHECK ("used_minor" >= 0)
);

-- A mutation's idempotency key, scoped per user, committed with the resource it
-- created. The request is fingerprinted with a keyed hash (HMAC-SHA-256), so a
-- card number is not stored here even hashed.
CREATE TABLE "idempotency_key" (
    "user_id" UUID NOT NULL,
    "key" VARCHAR(128) NOT NULL,
    "method" VARCHAR(64) NOT NULL,
    "request_fingerprint" BYTEA NOT NULL,
    -- The key ring entry the fingerprint was keyed with, so keys can rotate.
    "fingerprint_key_id" VARCHAR(64) NOT NULL,
    "resource_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "idempotency_key_pkey" PRIMARY KEY ("user_id", "key")
);

CREATE INDEX "idempotency_key_expires_at_idx" ON "idempotency_key"("expires_at");
