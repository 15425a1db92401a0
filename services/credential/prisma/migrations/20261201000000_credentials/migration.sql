-- Issue #7: issuer keys, holder DIDs, status lists, credentials and their status history.

CREATE TYPE "credential_kind" AS ENUM ('VERIFIED_EMAIL', 'VERIFIED_PHONE', 'VERIFIED_IDENTITY');
CREATE TYPE "credential_encoding" AS ENUM ('VC_JWT', 'SD_JWT_VC');
CREATE TYPE "credential_state" AS ENUM ('ACTIVE', 'SUSPENDED', 'REVOKED');
CREATE TYPE "key_custody" AS ENUM ('SERVICE', 'HOLDER');
CREATE TYPE "status_list_kind" AS ENUM ('BITSTRING', 'TOKEN');

-- The issuer's Ed25519 keys; private halves sealed (DESIGN.md §4).
CREATE TABLE "issuer_key" (
    "kid" VARCHAR(64) NOT NULL,
    "public_jwk" JSONB NOT NULL,
    "private_key_sealed" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retired_at" TIMESTAMPTZ(6),

    CONSTRAINT "issuer_key_pkey" PRIMARY KEY ("kid")
);

-- One signing key at a time, whatever replicas race to create or rotate.
CREATE UNIQUE INDEX "issuer_key_one_active" ON "issuer_key" ((true)) WHERE "retired_at" IS NULL;

-- Holders' did:key identifiers.
CREATE TABLE "holder_did" (
    "did" VARCHAR(512) NOT NULL,
    "user_id" UUID NOT NULL,
    "key_custody" "key_custody" NOT NULL,
    "private_key_sealed" BYTEA,
    "wallet_address" VARCHAR(170),
    "primary" BOOLEAN NOT NULL DEFAULT false,
    "idempotency_scope" VARCHAR(200),
    "idempotency_key" VARCHAR(128),
    "request_hash" BYTEA,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "holder_did_pkey" PRIMARY KEY ("did"),
    -- Service custody keeps the private key; holder custody never has it.
    CONSTRAINT "holder_did_custody_key" CHECK (("key_custody" = 'SERVICE') = ("private_key_sealed" IS NOT NULL))
);

CREATE UNIQUE INDEX "holder_did_idempotency_scope_idempotency_key_key" ON "holder_did"("idempotency_scope", "idempotency_key");
CREATE INDEX "holder_did_user_id_created_at_idx" ON "holder_did"("user_id", "created_at");
CREATE INDEX "holder_did_wallet_address_idx" ON "holder_did"("wallet_address");
-- At most one primary DID per user: automatic issuance needs exactly one target.
CREATE UNIQUE INDEX "holder_did_one_primary_per_user" ON "holder_did"("user_id") WHERE "primary";

-- Status lists; their content is derived from the credentials that point into them.
CREATE TABLE "status_list" (
    "id" UUID NOT NULL,
    "kind" "status_list_kind" NOT NULL,
    "size" INTEGER NOT NULL,
    "allocated" INTEGER NOT NULL DEFAULT 0,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "status_list_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "status_list_allocation" CHECK ("size" > 0 AND "allocated" BETWEEN 0 AND "size")
);

CREATE INDEX "status_list_kind_allocated_idx" ON "status_list"("kind", "allocated");

-- Issued credentials.
CREATE TABLE "credential" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "holder_did" VARCHAR(512) NOT NULL,
    "issuer_did" VARCHAR(512) NOT NULL,
    "issuer_key_id" VARCHAR(64) NOT NULL,
    "kind" "credential_kind" NOT NULL,
    "encoding" "credential_encoding" NOT NULL,
    "claims" JSONB NOT NULL,
    "encoded" TEXT NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_until" TIMESTAMPTZ(6) NOT NULL,
    "issued_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "state" "credential_state" NOT NULL DEFAULT 'ACTIVE',
    "status_reason" TEXT,
    "status_changed_at" TIMESTAMPTZ(6),
    "status_list_id" UUID NOT NULL,
    "status_list_index" INTEGER NOT NULL,
    "idempotency_scope" VARCHAR(200) NOT NULL,
    "idempotency_key" VARCHAR(128) NOT NULL,
    "request_hash" BYTEA NOT NULL,

    CONSTRAINT "credential_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credential_validity" CHECK ("valid_from" < "valid_until"),
    CONSTRAINT "credential_status_list_index" CHECK ("status_list_index" >= 0)
);

CREATE UNIQUE INDEX "credential_status_list_id_status_list_index_key" ON "credential"("status_list_id", "status_list_index");
CREATE UNIQUE INDEX "credential_idempotency_scope_idempotency_key_key" ON "credential"("idempotency_scope", "idempotency_key");
CREATE INDEX "credential_user_id_issued_at_id_idx" ON "credential"("user_id", "issued_at" DESC, "id" DESC);
CREATE INDEX "credential_holder_did_issued_at_id_idx" ON "credential"("holder_did", "issued_at" DESC, "id" DESC);
-- Publishing a list reads only its entries that are not active.
CREATE INDEX "credential_status_list_not_active" ON "credential"("status_list_id") WHERE "state" <> 'ACTIVE';

ALTER TABLE "credential" ADD CONSTRAINT "credential_holder_did_fkey" FOREIGN KEY ("holder_did") REFERENCES "holder_did"("did") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "credential" ADD CONSTRAINT "credential_issuer_key_id_fkey" FOREIGN KEY ("issuer_key_id") REFERENCES "issuer_key"("kid") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "credential" ADD CONSTRAINT "credential_status_list_id_fkey" FOREIGN KEY ("status_list_id") REFERENCES "status_list"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Who changed a credential's standing, when and why.
CREATE TABLE "credential_status_change" (
    "id" BIGSERIAL NOT NULL,
    "credential_id" UUID NOT NULL,
    "from_state" "credential_state" NOT NULL,
    "to_state" "credential_state" NOT NULL,
    "reason" TEXT NOT NULL,
    "actor" VARCHAR(200) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "credential_status_change_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "credential_status_change_credential_id_created_at_idx" ON "credential_status_change"("credential_id", "created_at");

ALTER TABLE "credential_status_change" ADD CONSTRAINT "credential_status_change_credential_id_fkey" FOREIGN KEY ("credential_id") REFERENCES "credential"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
