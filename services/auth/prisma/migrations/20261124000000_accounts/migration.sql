-- Accounts, sessions, refresh tokens, verification codes and the audit trail
-- (issue #3). Redis holds only what can be rebuilt; everything acknowledged to
-- a client lives here (services/auth/README.md: Where state lives).

-- Signing keys carry the configured version that made them, so changing
-- AUTH_SIGNING_KEY_VERSION rotates the key at the next start.
ALTER TABLE "signing_key" ADD COLUMN "version" VARCHAR(64) NOT NULL DEFAULT '1';

-- An account. Contacts are unique across accounts; a contact waiting for its
-- code (pending_*) is not, because it belongs to nobody until proven.
CREATE TABLE "user_account" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "email" VARCHAR(254),
    "email_verified_at" TIMESTAMPTZ(6),
    "phone_number" VARCHAR(16),
    "phone_verified_at" TIMESTAMPTZ(6),
    "pending_email" VARCHAR(254),
    "pending_phone_number" VARCHAR(16),
    "display_name" VARCHAR(100) NOT NULL DEFAULT '',
    "roles" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "password_hash" VARCHAR(512) NOT NULL,
    "password_changed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_account_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "user_account_contact_required" CHECK ("email" IS NOT NULL OR "phone_number" IS NOT NULL)
);

CREATE UNIQUE INDEX "user_account_email_key" ON "user_account"("email");
CREATE UNIQUE INDEX "user_account_phone_number_key" ON "user_account"("phone_number");

-- A signed-in device and its refresh-token family. Revocation is recorded here,
-- so a flushed Redis cannot bring an ended session back.
CREATE TABLE "auth_session" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "device_name" VARCHAR(100) NOT NULL DEFAULT '',
    "user_agent" VARCHAR(512) NOT NULL DEFAULT '',
    "ip_address" VARCHAR(64) NOT NULL DEFAULT '',
    "last_ip_address" VARCHAR(64) NOT NULL DEFAULT '',
    "authentication_methods" TEXT[] NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "revoked_at" TIMESTAMPTZ(6),
    "revoked_reason" VARCHAR(64),

    CONSTRAINT "auth_session_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "auth_session_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "user_account"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "auth_session_user_id_last_seen_at_idx" ON "auth_session"("user_id", "last_seen_at");

-- Refresh tokens, by SHA-256 of the token (they are 256-bit random, so a fast
-- hash is enough). A rotated token is kept, so presenting it again is
-- recognised as reuse and ends its family (the session).
CREATE TABLE "refresh_token" (
    "token_hash" BYTEA NOT NULL,
    "session_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "rotated_at" TIMESTAMPTZ(6),

    CONSTRAINT "refresh_token_pkey" PRIMARY KEY ("token_hash"),
    CONSTRAINT "refresh_token_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "auth_session"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "refresh_token_session_id_idx" ON "refresh_token"("session_id");

-- One live code per flow and contact, HMAC'd under a key derived from the
-- key-encryption key, counting wrong attempts; deleted when used.
CREATE TABLE "verification_code" (
    "flow" VARCHAR(32) NOT NULL,
    "contact" VARCHAR(254) NOT NULL,
    "purpose" VARCHAR(32) NOT NULL,
    "user_id" UUID NOT NULL,
    "code_hash" BYTEA NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "verification_code_pkey" PRIMARY KEY ("flow", "contact"),
    CONSTRAINT "verification_code_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "user_account"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "verification_code_expires_at_idx" ON "verification_code"("expires_at");

-- Security events. No foreign keys, so the trail outlives what it names.
CREATE TABLE "audit_event" (
    "id" BIGSERIAL NOT NULL,
    "occurred_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "kind" VARCHAR(64) NOT NULL,
    "user_id" UUID,
    "session_id" UUID,
    "ip_address" VARCHAR(64) NOT NULL DEFAULT '',
    "user_agent" VARCHAR(512) NOT NULL DEFAULT '',
    "detail" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "audit_event_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "audit_event_user_id_occurred_at_idx" ON "audit_event"("user_id", "occurred_at");
CREATE INDEX "audit_event_kind_occurred_at_idx" ON "audit_event"("kind", "occurred_at");

-- Append-only: the database itself refuses to change or remove an audit event,
-- so neither a bug nor a stolen application credential can rewrite history.
CREATE FUNCTION "audit_event_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER "audit_event_no_update_or_delete" BEFORE UPDATE OR DELETE ON "audit_event"
    FOR EACH ROW EXECUTE FUNCTION "audit_event_refuse_change"();
CREATE TRIGGER "audit_event_no_truncate" BEFORE TRUNCATE ON "audit_event"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_event_refuse_change"();
