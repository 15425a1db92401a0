-- The ledger proper: accounts, their balances, immutable hash-chained
-- transactions and entries, the chain head, and the index of open pending
-- transactions. Every invariant the code asserts is also held here, so a bug
-- in the code (or a hand-written statement) cannot commit a broken ledger:
-- see services/ledger/README.md, "Invariants, enforced twice".

-- The scaffold's generic tables: the ledger keeps each idempotency key on the
-- record it created, in the same row and the same transaction, and it emits no
-- events, so neither table has a use.
DROP TABLE "idempotency_record";
DROP TABLE "outbox_event";

CREATE TYPE "account_kind" AS ENUM ('USER_WALLET', 'FEE_REVENUE', 'SETTLEMENT', 'CLEARING', 'EXTERNAL_RAIL');
CREATE TYPE "transaction_kind" AS ENUM ('POSTED', 'PENDING', 'POST_PENDING', 'VOID_PENDING', 'EXPIRE_PENDING');
CREATE TYPE "entry_direction" AS ENUM ('DEBIT', 'CREDIT');

-- Accounts are immutable once created: currency, kind and flags are fixed for life.
CREATE TABLE "account" (
    "id" UUID NOT NULL,
    "owner_id" UUID,
    "currency" VARCHAR(8) NOT NULL,
    "kind" "account_kind" NOT NULL,
    "debits_must_not_exceed_credits" BOOLEAN NOT NULL,
    "credits_must_not_exceed_debits" BOOLEAN NOT NULL,
    "address" VARCHAR(256),
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "idempotency_scope" VARCHAR(128) NOT NULL,
    "idempotency_key" VARCHAR(128) NOT NULL,
    "request_hash" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "account_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "account_currency_supported" CHECK ("currency" IN ('USD', 'EUR', 'USDC', 'EURC', 'BTC', 'ETH')),
    CONSTRAINT "account_flags_exclusive" CHECK (NOT ("debits_must_not_exceed_credits" AND "credits_must_not_exceed_debits")),
    CONSTRAINT "account_wallet_has_owner" CHECK (("kind" = 'USER_WALLET') = ("owner_id" IS NOT NULL)),
    CONSTRAINT "account_wallet_never_negative" CHECK ("kind" <> 'USER_WALLET' OR "debits_must_not_exceed_credits"),
    CONSTRAINT "account_request_hash_sha256" CHECK (octet_length("request_hash") = 32)
);

CREATE UNIQUE INDEX "account_address_key" ON "account"("address");
CREATE UNIQUE INDEX "account_idempotency_scope_idempotency_key_key" ON "account"("idempotency_scope", "idempotency_key");
-- Target of the balance's composite foreign key: its copy of the flags must be the account's own.
CREATE UNIQUE INDEX "account_id_flags_key" ON "account"("id", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits");
CREATE INDEX "account_owner_id_created_at_id_idx" ON "account"("owner_id", "created_at", "id");
CREATE INDEX "account_created_at_id_idx" ON "account"("created_at", "id");
-- One wallet per owner and currency (partial, so Prisma's schema cannot name it).
CREATE UNIQUE INDEX "account_one_wallet_per_owner_and_currency" ON "account"("owner_id", "currency") WHERE "kind" = 'USER_WALLET';

-- The running totals, TigerBeetle's four. The only rows of the ledger that are
-- ever updated. The flags are copied here (and pinned to the account's by the
-- foreign key) so that plain CHECK constraints can hold the balance to them.
CREATE TABLE "account_balance" (
    "account_id" UUID NOT NULL,
    "debits_must_not_exceed_credits" BOOLEAN NOT NULL,
    "credits_must_not_exceed_debits" BOOLEAN NOT NULL,
    "debits_posted" DECIMAL(78,0) NOT NULL DEFAULT 0,
    "credits_posted" DECIMAL(78,0) NOT NULL DEFAULT 0,
    "debits_pending" DECIMAL(78,0) NOT NULL DEFAULT 0,
    "credits_pending" DECIMAL(78,0) NOT NULL DEFAULT 0,
    "last_sequence" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "account_balance_pkey" PRIMARY KEY ("account_id"),
    CONSTRAINT "account_balance_totals_not_negative"
        CHECK ("debits_posted" >= 0 AND "credits_posted" >= 0 AND "debits_pending" >= 0 AND "credits_pending" >= 0),
    CONSTRAINT "account_balance_debits_must_not_exceed_credits"
        CHECK (NOT "debits_must_not_exceed_credits" OR "debits_posted" + "debits_pending" <= "credits_posted"),
    CONSTRAINT "account_balance_credits_must_not_exceed_debits"
        CHECK (NOT "credits_must_not_exceed_debits" OR "credits_posted" + "credits_pending" <= "debits_posted"),
    CONSTRAINT "account_balance_last_sequence_not_negative" CHECK ("last_sequence" >= 0)
);

ALTER TABLE "account_balance" ADD CONSTRAINT "account_balance_account_flags_fkey"
    FOREIGN KEY ("account_id", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits")
    REFERENCES "account"("id", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits")
    ON DELETE RESTRICT ON UPDATE RESTRICT;

-- One committed transaction, a link of the hash chain.
CREATE TABLE "ledger_transaction" (
    "id" UUID NOT NULL,
    "sequence" BIGINT NOT NULL,
    "kind" "transaction_kind" NOT NULL,
    "idempotency_scope" VARCHAR(128) NOT NULL,
    "idempotency_key" VARCHAR(128) NOT NULL,
    "request_hash" BYTEA NOT NULL,
    "reference" VARCHAR(128) NOT NULL DEFAULT '',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "pending_transaction_id" UUID,
    "timeout_at" TIMESTAMPTZ(6),
    "void_reason" VARCHAR(256) NOT NULL DEFAULT '',
    "created_by" VARCHAR(128) NOT NULL,
    "previous_hash" BYTEA NOT NULL,
    "hash" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "ledger_transaction_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ledger_transaction_sequence_positive" CHECK ("sequence" > 0),
    CONSTRAINT "ledger_transaction_hashes_sha256"
        CHECK (octet_length("request_hash") = 32 AND octet_length("previous_hash") = 32 AND octet_length("hash") = 32),
    CONSTRAINT "ledger_transaction_pending_has_timeout" CHECK (("kind" = 'PENDING') = ("timeout_at" IS NOT NULL)),
    CONSTRAINT "ledger_transaction_resolution_names_pending"
        CHECK (("kind" IN ('POST_PENDING', 'VOID_PENDING', 'EXPIRE_PENDING')) = ("pending_transaction_id" IS NOT NULL))
);

CREATE UNIQUE INDEX "ledger_transaction_sequence_key" ON "ledger_transaction"("sequence");
CREATE UNIQUE INDEX "ledger_transaction_idempotency_scope_idempotency_key_key" ON "ledger_transaction"("idempotency_scope", "idempotency_key");
-- A pending transaction is posted, voided or expired at most once. Partial: most
-- transactions resolve nothing and need no entry in it.
CREATE UNIQUE INDEX "ledger_transaction_one_resolution_per_pending" ON "ledger_transaction"("pending_transaction_id")
    WHERE "pending_transaction_id" IS NOT NULL;
-- Time to sequence: commit times never decrease along the chain (checked below), so the
-- first transaction at or after a moment bounds every time filter as a sequence range.
CREATE INDEX "ledger_transaction_created_at_idx" ON "ledger_transaction"("created_at");

ALTER TABLE "ledger_transaction" ADD CONSTRAINT "ledger_transaction_pending_transaction_id_fkey"
    FOREIGN KEY ("pending_transaction_id") REFERENCES "ledger_transaction"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- One side of one posting. A posting writes a DEBIT and a CREDIT entry.
CREATE TABLE "ledger_entry" (
    "id" UUID NOT NULL,
    "transaction_id" UUID NOT NULL,
    "sequence" BIGINT NOT NULL,
    "transaction_kind" "transaction_kind" NOT NULL,
    "posting_index" INTEGER NOT NULL,
    "account_id" UUID NOT NULL,
    "counterparty_account_id" UUID NOT NULL,
    "direction" "entry_direction" NOT NULL,
    "currency" VARCHAR(8) NOT NULL,
    "amount" DECIMAL(78,0) NOT NULL,
    "posted_balance_after" DECIMAL(78,0) NOT NULL,
    "available_balance_after" DECIMAL(78,0) NOT NULL,
    "reference" VARCHAR(128) NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ(6) NOT NULL,

    -- One debit and one credit per posting; also the lookup of a transaction's entries. The
    -- entry's own id is not indexed: nothing looks an entry up by it, and random UUIDs are
    -- the costliest index to insert into (a batch writes thousands).
    CONSTRAINT "ledger_entry_pkey" PRIMARY KEY ("transaction_id", "posting_index", "direction"),
    CONSTRAINT "ledger_entry_amount_positive" CHECK ("amount" > 0),
    CONSTRAINT "ledger_entry_posting_index_bounded" CHECK ("posting_index" >= 0 AND "posting_index" < 32),
    CONSTRAINT "ledger_entry_two_accounts" CHECK ("account_id" <> "counterparty_account_id")
);

-- Statement order for one account; also makes (account, posting) unique.
CREATE UNIQUE INDEX "ledger_entry_account_id_sequence_posting_index_key" ON "ledger_entry"("account_id", "sequence", "posting_index");

-- An entry's transaction, account and counterparty are checked by the
-- statement-level trigger "ledger_entry_checked" below rather than by foreign
-- keys: one set-based join per batch instead of three lookups per row, and it
-- checks more (the account's currency, and the copies of the transaction's
-- sequence, kind, reference and time). Nothing they point at can be deleted.

-- The end of the hash chain: one row, taken FOR UPDATE once per committed batch.
CREATE TABLE "chain_head" (
    "id" SMALLINT NOT NULL,
    "sequence" BIGINT NOT NULL,
    "hash" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "chain_head_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "chain_head_single_row" CHECK ("id" = 1),
    CONSTRAINT "chain_head_sequence_not_negative" CHECK ("sequence" >= 0),
    CONSTRAINT "chain_head_hash_sha256" CHECK (octet_length("hash") = 32)
);

INSERT INTO "chain_head" ("id", "sequence", "hash", "created_at") VALUES (1, 0, decode(repeat('00', 32), 'hex'), '1970-01-01T00:00:00Z');

-- Pending transactions not yet posted, voided or expired: the sweeper's work
-- list. Derived data (a row is added with the PENDING transaction and removed
-- with its resolution); Reconcile checks it against the transactions.
CREATE TABLE "open_pending" (
    "transaction_id" UUID NOT NULL,
    "timeout_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "open_pending_pkey" PRIMARY KEY ("transaction_id")
);

CREATE INDEX "open_pending_timeout_at_idx" ON "open_pending"("timeout_at");

ALTER TABLE "open_pending" ADD CONSTRAINT "open_pending_transaction_id_fkey"
    FOREIGN KEY ("transaction_id") REFERENCES "ledger_transaction"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- Immutability: committed records can be neither changed nor removed, by
-- anyone, superusers included (only session_replication_role = replica, which
-- needs superuser, switches triggers off; Reconcile and VerifyChain then find
-- the damage).
CREATE FUNCTION "ledger_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % is not allowed; ledger records are immutable', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER "account_immutable" BEFORE UPDATE OR DELETE ON "account"
    FOR EACH ROW EXECUTE FUNCTION "ledger_refuse_change"();
CREATE TRIGGER "account_no_truncate" BEFORE TRUNCATE ON "account"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"();
CREATE TRIGGER "ledger_transaction_immutable" BEFORE UPDATE OR DELETE ON "ledger_transaction"
    FOR EACH ROW EXECUTE FUNCTION "ledger_refuse_change"();
CREATE TRIGGER "ledger_transaction_no_truncate" BEFORE TRUNCATE ON "ledger_transaction"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"();
CREATE TRIGGER "ledger_entry_immutable" BEFORE UPDATE OR DELETE ON "ledger_entry"
    FOR EACH ROW EXECUTE FUNCTION "ledger_refuse_change"();
CREATE TRIGGER "ledger_entry_no_truncate" BEFORE TRUNCATE ON "ledger_entry"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"();
CREATE TRIGGER "account_balance_no_delete" BEFORE DELETE ON "account_balance"
    FOR EACH ROW EXECUTE FUNCTION "ledger_refuse_change"();
CREATE TRIGGER "account_balance_no_truncate" BEFORE TRUNCATE ON "account_balance"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"();
CREATE TRIGGER "chain_head_no_delete" BEFORE DELETE ON "chain_head"
    FOR EACH ROW EXECUTE FUNCTION "ledger_refuse_change"();
CREATE TRIGGER "chain_head_no_truncate" BEFORE TRUNCATE ON "chain_head"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"();

-- A balance row belongs to its account for life and only moves forward in the
-- chain. Checked once per statement over all updated rows (a batch updates
-- thousands), not once per row.
CREATE FUNCTION "ledger_check_balance_updates"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    broken RECORD;
BEGIN
    IF (SELECT count(*) FROM "new_balances") <> (SELECT count(*) FROM "new_balances" n JOIN "old_balances" o USING ("account_id")) THEN
        RAISE EXCEPTION 'ledger: a balance cannot move to another account' USING ERRCODE = 'check_violation';
    END IF;
    SELECT n."account_id", o."last_sequence" AS "before", n."last_sequence" AS "after" INTO broken
    FROM "new_balances" n JOIN "old_balances" o USING ("account_id")
    WHERE n."last_sequence" < o."last_sequence"
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: balance of % cannot go back from sequence % to %', broken."account_id", broken."before", broken."after"
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER "account_balance_forward_only" AFTER UPDATE ON "account_balance"
    REFERENCING OLD TABLE AS "old_balances" NEW TABLE AS "new_balances"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_check_balance_updates"();

-- The chain head only moves forward, and only onto a committed transaction's hash.
CREATE FUNCTION "ledger_check_chain_head_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."sequence" < OLD."sequence" THEN
        RAISE EXCEPTION 'ledger: the chain head cannot go back from % to %', OLD."sequence", NEW."sequence" USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM "ledger_transaction" WHERE "sequence" = NEW."sequence" AND "hash" = NEW."hash") THEN
        RAISE EXCEPTION 'ledger: the chain head must name a committed transaction and its hash (sequence %)', NEW."sequence"
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "chain_head_forward_only" BEFORE UPDATE ON "chain_head"
    FOR EACH ROW EXECUTE FUNCTION "ledger_check_chain_head_update"();

-- Every statement that inserts transactions extends the chain without gaps:
-- each new link's previous_hash is the hash of the transaction just before it,
-- and its commit time is not earlier than that transaction's.
CREATE FUNCTION "ledger_check_chain_links"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    broken RECORD;
BEGIN
    SELECT n."sequence" INTO broken
    FROM "new_transactions" n
    LEFT JOIN "ledger_transaction" p ON p."sequence" = n."sequence" - 1
    WHERE n."sequence" > 1 AND (p."id" IS NULL OR p."hash" <> n."previous_hash" OR p."created_at" > n."created_at")
       OR n."sequence" = 1 AND n."previous_hash" <> decode(repeat('00', 32), 'hex')
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: transaction % does not link to the one before it', broken."sequence" USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER "ledger_transaction_chain_links" AFTER INSERT ON "ledger_transaction"
    REFERENCING NEW TABLE AS "new_transactions"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_check_chain_links"();

-- A resolution (post, void, expiry) must name a PENDING transaction.
CREATE FUNCTION "ledger_check_resolution_target"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM "ledger_transaction" WHERE "id" = NEW."pending_transaction_id" AND "kind" = 'PENDING') THEN
        RAISE EXCEPTION 'ledger: % names %, which is not a pending transaction', NEW."kind", NEW."pending_transaction_id"
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "ledger_transaction_resolution_target" BEFORE INSERT ON "ledger_transaction"
    FOR EACH ROW WHEN (NEW."pending_transaction_id" IS NOT NULL) EXECUTE FUNCTION "ledger_check_resolution_target"();

-- Double entry, per statement: each posting is one debit and one credit of the
-- same amount and currency between two accounts, so every transaction balances
-- per currency; every entry belongs to a committed transaction (and repeats
-- its sequence, kind, reference and time exactly) and to accounts that exist
-- and hold the entry's currency.
CREATE FUNCTION "ledger_check_new_entries"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    broken RECORD;
BEGIN
    SELECT "transaction_id", "posting_index" INTO broken
    FROM "new_entries"
    GROUP BY "transaction_id", "posting_index"
    HAVING count(*) <> 2
        OR count(*) FILTER (WHERE "direction" = 'DEBIT') <> 1
        OR count(DISTINCT "currency") <> 1
        OR count(DISTINCT "account_id") <> 2
        OR sum(CASE WHEN "direction" = 'DEBIT' THEN "amount" ELSE -"amount" END) <> 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: posting % of transaction % is not one balanced debit and credit', broken."posting_index", broken."transaction_id"
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT e."id" INTO broken
    FROM "new_entries" e LEFT JOIN "ledger_transaction" t ON t."id" = e."transaction_id"
    WHERE t."id" IS NULL OR t."sequence" <> e."sequence" OR t."kind" <> e."transaction_kind"
       OR t."reference" <> e."reference" OR t."created_at" <> e."created_at"
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: entry % does not match a committed transaction', broken."id" USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT e."id" INTO broken
    FROM "new_entries" e
    LEFT JOIN "account" a ON a."id" = e."account_id" AND a."currency" = e."currency"
    LEFT JOIN "account" c ON c."id" = e."counterparty_account_id" AND c."currency" = e."currency"
    WHERE a."id" IS NULL OR c."id" IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: entry % names an account that does not exist or holds another currency', broken."id"
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER "ledger_entry_checked" AFTER INSERT ON "ledger_entry"
    REFERENCING NEW TABLE AS "new_entries"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_check_new_entries"();

-- The batch writer's two round trips (services/ledger/README.md, "Batching").
-- Each batch is: BEGIN; ledger_lock_batch(...); plan in the service; ledger_write_batch(...); COMMIT.
-- Keeping the statements here rather than in the service makes a batch four
-- round trips whatever its size, and fixes the lock order in one place.

-- Locks and reads everything a batch decides on, in the one order every writer
-- follows: balance rows in ascending account id, then the chain head. Keys and
-- resolutions are read after the head is locked, so every batch that committed
-- before is visible and none can commit until this one does. Amounts and
-- sequences come back as text (JSON numbers would lose digits), bytes as hex.
CREATE FUNCTION "ledger_lock_batch"(
    "p_account_ids" UUID[],
    "p_pending_ids" UUID[],
    "p_key_scopes" TEXT[],
    "p_keys" TEXT[],
    "p_known_account_ids" UUID[]
) RETURNS JSONB LANGUAGE plpgsql AS $$
DECLARE
    "v_account_ids" UUID[];
    "v_balances" JSONB;
    "v_head" JSONB;
    "v_keys" JSONB;
    "v_resolutions" JSONB;
    "v_pendings" JSONB;
    "v_pending_entries" JSONB;
    "v_accounts" JSONB;
BEGIN
    -- Pending transactions are immutable, so their entries may be read before any lock.
    SELECT coalesce(array_agg(DISTINCT "id"), '{}') INTO "v_account_ids" FROM (
        SELECT unnest("p_account_ids") AS "id"
        UNION
        SELECT e."account_id" FROM "ledger_entry" e WHERE e."transaction_id" = ANY("p_pending_ids")
    ) AS "named";

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'account_id', b."account_id", 'debits_posted', b."debits_posted"::text, 'credits_posted', b."credits_posted"::text,
        'debits_pending', b."debits_pending"::text, 'credits_pending', b."credits_pending"::text, 'last_sequence', b."last_sequence"::text
    ) ORDER BY b."account_id"), '[]') INTO "v_balances" FROM (
        SELECT * FROM "account_balance" WHERE "account_id" = ANY("v_account_ids") ORDER BY "account_id" FOR UPDATE
    ) AS b;

    SELECT jsonb_build_object('sequence', h."sequence"::text, 'hash', encode(h."hash", 'hex'), 'created_at', h."created_at")
        INTO "v_head" FROM "chain_head" h WHERE h."id" = 1 FOR UPDATE;

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', t."id", 'idempotency_scope', t."idempotency_scope", 'idempotency_key', t."idempotency_key",
        'request_hash', encode(t."request_hash", 'hex')
    )), '[]') INTO "v_keys"
    FROM "ledger_transaction" t JOIN unnest("p_key_scopes", "p_keys") AS k("scope", "key")
        ON t."idempotency_scope" = k."scope" AND t."idempotency_key" = k."key";

    SELECT coalesce(jsonb_agg(jsonb_build_object('pending_transaction_id', t."pending_transaction_id", 'kind', t."kind")), '[]')
        INTO "v_resolutions" FROM "ledger_transaction" t WHERE t."pending_transaction_id" = ANY("p_pending_ids");

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', t."id", 'sequence', t."sequence"::text, 'kind', t."kind", 'idempotency_scope', t."idempotency_scope",
        'idempotency_key', t."idempotency_key", 'request_hash', encode(t."request_hash", 'hex'), 'reference', t."reference",
        'metadata', t."metadata", 'pending_transaction_id', t."pending_transaction_id", 'timeout_at', t."timeout_at",
        'void_reason', t."void_reason", 'created_by', t."created_by", 'previous_hash', encode(t."previous_hash", 'hex'),
        'hash', encode(t."hash", 'hex'), 'created_at', t."created_at"
    )), '[]') INTO "v_pendings" FROM "ledger_transaction" t WHERE t."id" = ANY("p_pending_ids");

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', e."id", 'transaction_id', e."transaction_id", 'sequence', e."sequence"::text, 'transaction_kind', e."transaction_kind",
        'posting_index', e."posting_index", 'account_id', e."account_id", 'counterparty_account_id', e."counterparty_account_id",
        'direction', e."direction", 'currency', e."currency", 'amount', e."amount"::text,
        'posted_balance_after', e."posted_balance_after"::text, 'available_balance_after', e."available_balance_after"::text,
        'reference', e."reference", 'created_at', e."created_at"
    ) ORDER BY e."transaction_id", e."posting_index", e."direction"), '[]')
        INTO "v_pending_entries" FROM "ledger_entry" e WHERE e."transaction_id" = ANY("p_pending_ids");

    -- Accounts never change; the service caches them and asks only for the ones it does not know.
    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', a."id", 'owner_id', a."owner_id", 'currency', a."currency", 'kind', a."kind",
        'debits_must_not_exceed_credits', a."debits_must_not_exceed_credits",
        'credits_must_not_exceed_debits', a."credits_must_not_exceed_debits", 'address', a."address",
        'metadata', a."metadata", 'created_at', a."created_at"
    )), '[]') INTO "v_accounts"
    FROM "account" a WHERE a."id" = ANY("v_account_ids") AND NOT a."id" = ANY("p_known_account_ids");

    RETURN jsonb_build_object(
        'balances', "v_balances", 'head', "v_head", 'keys', "v_keys", 'resolutions', "v_resolutions",
        'pendings', "v_pendings", 'pending_entries', "v_pending_entries", 'accounts', "v_accounts"
    );
END;
$$;

-- Writes a planned batch: its transactions, entries, balances, the open-pending
-- list and the chain head, checking that every row landed.
CREATE FUNCTION "ledger_write_batch"(
    "t_id" UUID[], "t_sequence" BIGINT[], "t_kind" "transaction_kind"[], "t_scope" TEXT[], "t_key" TEXT[],
    "t_request_hash" BYTEA[], "t_reference" TEXT[], "t_metadata" JSONB[], "t_pending_transaction_id" UUID[],
    "t_timeout_at" TIMESTAMPTZ[], "t_void_reason" TEXT[], "t_created_by" TEXT[], "t_previous_hash" BYTEA[],
    "t_hash" BYTEA[], "t_created_at" TIMESTAMPTZ[],
    "e_id" UUID[], "e_transaction_id" UUID[], "e_sequence" BIGINT[], "e_transaction_kind" "transaction_kind"[],
    "e_posting_index" INTEGER[], "e_account_id" UUID[], "e_counterparty_account_id" UUID[], "e_direction" "entry_direction"[],
    "e_currency" TEXT[], "e_amount" NUMERIC[], "e_posted_balance_after" NUMERIC[], "e_available_balance_after" NUMERIC[],
    "e_reference" TEXT[], "e_created_at" TIMESTAMPTZ[],
    "b_account_id" UUID[], "b_debits_posted" NUMERIC[], "b_credits_posted" NUMERIC[], "b_debits_pending" NUMERIC[],
    "b_credits_pending" NUMERIC[], "b_last_sequence" BIGINT[],
    "o_transaction_id" UUID[], "o_timeout_at" TIMESTAMPTZ[],
    "c_transaction_id" UUID[],
    "h_sequence" BIGINT, "h_hash" BYTEA, "h_created_at" TIMESTAMPTZ
) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    "v_count" BIGINT;
BEGIN
    INSERT INTO "ledger_transaction" ("id", "sequence", "kind", "idempotency_scope", "idempotency_key", "request_hash", "reference",
        "metadata", "pending_transaction_id", "timeout_at", "void_reason", "created_by", "previous_hash", "hash", "created_at")
    SELECT * FROM unnest("t_id", "t_sequence", "t_kind", "t_scope", "t_key", "t_request_hash", "t_reference", "t_metadata",
        "t_pending_transaction_id", "t_timeout_at", "t_void_reason", "t_created_by", "t_previous_hash", "t_hash", "t_created_at");

    INSERT INTO "ledger_entry" ("id", "transaction_id", "sequence", "transaction_kind", "posting_index", "account_id",
        "counterparty_account_id", "direction", "currency", "amount", "posted_balance_after", "available_balance_after",
        "reference", "created_at")
    SELECT * FROM unnest("e_id", "e_transaction_id", "e_sequence", "e_transaction_kind", "e_posting_index", "e_account_id",
        "e_counterparty_account_id", "e_direction", "e_currency", "e_amount", "e_posted_balance_after", "e_available_balance_after",
        "e_reference", "e_created_at");

    UPDATE "account_balance" b SET "debits_posted" = v."debits_posted", "credits_posted" = v."credits_posted",
        "debits_pending" = v."debits_pending", "credits_pending" = v."credits_pending", "last_sequence" = v."last_sequence",
        "updated_at" = "h_created_at"
    FROM unnest("b_account_id", "b_debits_posted", "b_credits_posted", "b_debits_pending", "b_credits_pending", "b_last_sequence")
        AS v("account_id", "debits_posted", "credits_posted", "debits_pending", "credits_pending", "last_sequence")
    WHERE b."account_id" = v."account_id";
    GET DIAGNOSTICS "v_count" = ROW_COUNT;
    IF "v_count" <> coalesce(cardinality("b_account_id"), 0) THEN
        RAISE EXCEPTION 'ledger: updated % of % balances', "v_count", cardinality("b_account_id");
    END IF;

    INSERT INTO "open_pending" ("transaction_id", "timeout_at") SELECT * FROM unnest("o_transaction_id", "o_timeout_at");

    DELETE FROM "open_pending" WHERE "transaction_id" = ANY("c_transaction_id");
    GET DIAGNOSTICS "v_count" = ROW_COUNT;
    IF "v_count" <> coalesce(cardinality("c_transaction_id"), 0) THEN
        RAISE EXCEPTION 'ledger: closed % of % open pending transactions', "v_count", cardinality("c_transaction_id");
    END IF;

    UPDATE "chain_head" SET "sequence" = "h_sequence", "hash" = "h_hash", "created_at" = "h_created_at" WHERE "id" = 1;
END;
$$;
