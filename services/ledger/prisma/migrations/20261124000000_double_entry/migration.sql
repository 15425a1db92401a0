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
-- Targets of the composite foreign keys below: an entry's currency and a
-- balance's copy of the flags must be the account's own.
CREATE UNIQUE INDEX "account_id_currency_key" ON "account"("id", "currency");
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
-- A pending transaction is posted, voided or expired at most once.
CREATE UNIQUE INDEX "ledger_transaction_pending_transaction_id_key" ON "ledger_transaction"("pending_transaction_id");
CREATE INDEX "ledger_transaction_reference_idx" ON "ledger_transaction"("reference");
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

    CONSTRAINT "ledger_entry_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ledger_entry_amount_positive" CHECK ("amount" > 0),
    CONSTRAINT "ledger_entry_posting_index_bounded" CHECK ("posting_index" >= 0 AND "posting_index" < 32),
    CONSTRAINT "ledger_entry_two_accounts" CHECK ("account_id" <> "counterparty_account_id")
);

-- Statement order for one account; also makes (account, posting) unique.
CREATE UNIQUE INDEX "ledger_entry_account_id_sequence_posting_index_key" ON "ledger_entry"("account_id", "sequence", "posting_index");
-- One debit and one credit per posting; also the lookup of a transaction's entries.
CREATE UNIQUE INDEX "ledger_entry_transaction_id_posting_index_direction_key" ON "ledger_entry"("transaction_id", "posting_index", "direction");
CREATE INDEX "ledger_entry_account_id_created_at_idx" ON "ledger_entry"("account_id", "created_at");

ALTER TABLE "ledger_entry" ADD CONSTRAINT "ledger_entry_transaction_id_fkey"
    FOREIGN KEY ("transaction_id") REFERENCES "ledger_transaction"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;
ALTER TABLE "ledger_entry" ADD CONSTRAINT "ledger_entry_account_id_currency_fkey"
    FOREIGN KEY ("account_id", "currency") REFERENCES "account"("id", "currency") ON DELETE RESTRICT ON UPDATE RESTRICT;
ALTER TABLE "ledger_entry" ADD CONSTRAINT "ledger_entry_counterparty_account_id_currency_fkey"
    FOREIGN KEY ("counterparty_account_id", "currency") REFERENCES "account"("id", "currency") ON DELETE RESTRICT ON UPDATE RESTRICT;

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

-- A balance row belongs to its account for life and only moves forward in the chain.
CREATE FUNCTION "ledger_check_balance_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."account_id" <> OLD."account_id" THEN
        RAISE EXCEPTION 'ledger: a balance cannot move to another account' USING ERRCODE = 'check_violation';
    END IF;
    IF NEW."last_sequence" < OLD."last_sequence" THEN
        RAISE EXCEPTION 'ledger: balance of % cannot go back from sequence % to %', OLD."account_id", OLD."last_sequence", NEW."last_sequence"
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "account_balance_forward_only" BEFORE UPDATE ON "account_balance"
    FOR EACH ROW EXECUTE FUNCTION "ledger_check_balance_update"();

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
-- each new link's previous_hash is the hash of the transaction just before it.
CREATE FUNCTION "ledger_check_chain_links"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    broken RECORD;
BEGIN
    SELECT n."sequence" INTO broken
    FROM "new_transactions" n
    LEFT JOIN "ledger_transaction" p ON p."sequence" = n."sequence" - 1
    WHERE n."sequence" > 1 AND (p."id" IS NULL OR p."hash" <> n."previous_hash")
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
-- same amount and currency, so every transaction balances per currency.
CREATE FUNCTION "ledger_check_entries_balance"() RETURNS trigger LANGUAGE plpgsql AS $$
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
    RETURN NULL;
END;
$$;

CREATE TRIGGER "ledger_entry_balanced" AFTER INSERT ON "ledger_entry"
    REFERENCING NEW TABLE AS "new_entries"
    FOR EACH STATEMENT EXECUTE FUNCTION "ledger_check_entries_balance"();
