-- Second factors: TOTP, recovery codes and passkeys (docs/second-factors.md).
-- Every row belongs to one account and goes with it: ON DELETE CASCADE, so
-- deleting an account leaves no factor behind that could be matched later.

-- One TOTP credential per account: pending (set up, not yet confirmed with a
-- code, with an expiry) or confirmed. The secret is sealed with AES-256-GCM
-- under the key-encryption key, bound to its row by the sealer's context.
-- last_used_step is the time step of the newest accepted code: a code is
-- accepted only for a newer step, which makes replay impossible even across
-- replicas, and a conditional UPDATE enforces it atomically.
CREATE TABLE "totp_credential" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "secret_sealed" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "pending_expires_at" TIMESTAMPTZ(6),
    "confirmed_at" TIMESTAMPTZ(6),
    "last_used_step" BIGINT,

    CONSTRAINT "totp_credential_pkey" PRIMARY KEY ("id"),
    -- Exactly one of the two: a pending credential expires, a confirmed one does not.
    CONSTRAINT "totp_credential_pending_or_confirmed" CHECK (("pending_expires_at" IS NULL) <> ("confirmed_at" IS NULL))
);

CREATE UNIQUE INDEX "totp_credential_user_id_key" ON "totp_credential"("user_id");

ALTER TABLE "totp_credential" ADD CONSTRAINT "totp_credential_user_id_fkey"
    FOREIGN KEY ("user_id") REFERENCES "user_account"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Recovery codes: HMAC-SHA-256 of the normalised code under a key derived from
-- the key-encryption key, never the code. used_at is set by one conditional
-- UPDATE, so a code works once even when presented in parallel.
CREATE TABLE "recovery_code" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "code_hash" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "used_at" TIMESTAMPTZ(6),

    CONSTRAINT "recovery_code_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "recovery_code_user_id_code_hash_key" ON "recovery_code"("user_id", "code_hash");

ALTER TABLE "recovery_code" ADD CONSTRAINT "recovery_code_user_id_fkey"
    FOREIGN KEY ("user_id") REFERENCES "user_account"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- WebAuthn credentials (passkeys). credential_id is the authenticator's id in
-- base64url (at most 1023 bytes by the WebAuthn spec, so 1364 characters) and
-- unique across accounts, because a discoverable login finds the account by
-- it. sign_count is the authenticator's 32-bit counter (BIGINT: it does not
-- fit a signed INTEGER).
CREATE TABLE "passkey_credential" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "credential_id" VARCHAR(1364) NOT NULL,
    "public_key" BYTEA NOT NULL,
    "sign_count" BIGINT NOT NULL DEFAULT 0,
    "transports" VARCHAR(16)[],
    "aaguid" UUID NOT NULL,
    "device_type" VARCHAR(16) NOT NULL,
    "backed_up" BOOLEAN NOT NULL,
    "name" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(6),

    CONSTRAINT "passkey_credential_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "passkey_credential_sign_count_range" CHECK ("sign_count" BETWEEN 0 AND 4294967295)
);

CREATE UNIQUE INDEX "passkey_credential_credential_id_key" ON "passkey_credential"("credential_id");

CREATE INDEX "passkey_credential_user_id_created_at_idx" ON "passkey_credential"("user_id", "created_at" DESC);

ALTER TABLE "passkey_credential" ADD CONSTRAINT "passkey_credential_user_id_fkey"
    FOREIGN KEY ("user_id") REFERENCES "user_account"("id") ON DELETE CASCADE ON UPDATE CASCADE;
