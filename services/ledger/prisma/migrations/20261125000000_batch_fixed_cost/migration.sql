-- The batch functions' fixed cost (services/ledger/README.md, "Batching and
-- concurrency"). Same signatures, same locks in the same order, same checks;
-- what changes is how much work a batch does that does not depend on its size.
--
-- 1. Plans that do not depend on when they were made. PL/pgSQL caches one plan
--    per statement per connection. Made while a table was small (a fresh
--    ledger, right after deployment), that plan scans the table whole — and
--    keeps doing so as the table grows, until autovacuum's next ANALYZE
--    happens to invalidate it: a single transfer then read every transaction,
--    entry and balance row to find its own two. Every statement here looks
--    rows up by key in tables that only grow, and a batch names at most a few
--    thousand keys, so an index lookup is always the right plan: these
--    functions forbid sequential scans outright (SET enable_seqscan = off, for
--    the call only) instead of hoping the statistics are fresh. The checks
--    that join a statement's new rows (a transition table, whose size at plan
--    time is that of whichever batch came first) to a table also forbid hash
--    and merge joins, which would read the whole table's index instead.
--    And the plan is made once per connection: statements whose parameters
--    are arrays (`= ANY($1)`, `unnest($1, $2)`) looked cheaper planned afresh
--    for each call's values, so PostgreSQL re-planned three of them on every
--    batch (about 80-100 µs each, measured with pg_stat_statements'
--    track_planning); with the plan shape fixed by the settings above, the
--    generic plan is the right one (SET plan_cache_mode = force_generic_plan).
-- 2. One lock order for every writer, head first: the chain head, then the
--    balance rows by account id (the first migration locked the balances
--    first). Every batch needs the head, so nothing is serialised that was not
--    already; but a batch waiting for the one before it now waits at one row,
--    and locks its balances afterwards with a fresh snapshot, instead of
--    waiting at a balance row and re-checking, row by row, every balance the
--    batch before it changed (PostgreSQL's EvalPlanQual: about 60 µs of CPU
--    per transfer with two batches of 1000 in flight).
-- 3. No statement for nothing: the reads and writes about pending transactions
--    run only when the batch has some, and accounts are read only when the
--    service does not already know them (found with a hashed EXCEPT, not a
--    scan of the known list per row).

CREATE OR REPLACE FUNCTION "ledger_lock_batch"(
    "p_account_ids" UUID[],
    "p_pending_ids" UUID[],
    "p_key_scopes" TEXT[],
    "p_keys" TEXT[],
    "p_known_account_ids" UUID[]
) RETURNS JSONB LANGUAGE plpgsql
    SET "plan_cache_mode" = force_generic_plan SET "enable_seqscan" = off SET "enable_hashjoin" = off SET "enable_mergejoin" = off AS $$
DECLARE
    "v_has_pendings" BOOLEAN := coalesce(cardinality("p_pending_ids"), 0) > 0;
    "v_account_ids" UUID[];
    "v_unknown_account_ids" UUID[];
    "v_balances" JSONB;
    "v_head" JSONB;
    "v_keys" JSONB;
    "v_resolutions" JSONB := '[]';
    "v_pendings" JSONB := '[]';
    "v_pending_entries" JSONB := '[]';
    "v_accounts" JSONB := '[]';
BEGIN
    -- Pending transactions are immutable, so their entries may be read before any lock.
    IF "v_has_pendings" THEN
        SELECT coalesce(array_agg(DISTINCT "id"), '{}') INTO "v_account_ids" FROM (
            SELECT unnest("p_account_ids") AS "id"
            UNION
            SELECT e."account_id" FROM "ledger_entry" e WHERE e."transaction_id" = ANY("p_pending_ids")
        ) AS "named";
    ELSE
        SELECT coalesce(array_agg(DISTINCT "id"), '{}') INTO "v_account_ids" FROM unnest("p_account_ids") AS "id";
    END IF;

    -- The chain head first, in a statement of its own: every writer queues here,
    -- and the balance rows, locked by the next statement with a snapshot taken
    -- after the batch before committed, are then free and current (no wait, no
    -- re-check of rows that changed while this batch waited).
    SELECT jsonb_build_object('sequence', h."sequence"::text, 'hash', encode(h."hash", 'hex'), 'created_at', h."created_at")
        INTO "v_head" FROM "chain_head" h WHERE h."id" = 1 FOR UPDATE;

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'account_id', b."account_id", 'debits_posted', b."debits_posted"::text, 'credits_posted', b."credits_posted"::text,
        'debits_pending', b."debits_pending"::text, 'credits_pending', b."credits_pending"::text, 'last_sequence', b."last_sequence"::text
    ) ORDER BY b."account_id"), '[]') INTO "v_balances" FROM (
        SELECT * FROM "account_balance" WHERE "account_id" = ANY("v_account_ids") ORDER BY "account_id" FOR UPDATE
    ) AS b;

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', t."id", 'idempotency_scope', t."idempotency_scope", 'idempotency_key', t."idempotency_key",
        'request_hash', encode(t."request_hash", 'hex')
    )), '[]') INTO "v_keys"
    FROM unnest("p_key_scopes", "p_keys") AS k("scope", "key")
    JOIN "ledger_transaction" t ON t."idempotency_scope" = k."scope" AND t."idempotency_key" = k."key";

    IF "v_has_pendings" THEN
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
    END IF;

    -- Accounts never change; the service caches them and asks only for the ones it does not know.
    SELECT coalesce(array_agg("id"), '{}') INTO "v_unknown_account_ids" FROM (
        SELECT unnest("v_account_ids") AS "id"
        EXCEPT
        SELECT unnest("p_known_account_ids")
    ) AS "unknown";
    IF cardinality("v_unknown_account_ids") > 0 THEN
        SELECT coalesce(jsonb_agg(jsonb_build_object(
            'id', a."id", 'owner_id', a."owner_id", 'currency', a."currency", 'kind', a."kind",
            'debits_must_not_exceed_credits', a."debits_must_not_exceed_credits",
            'credits_must_not_exceed_debits', a."credits_must_not_exceed_debits", 'address', a."address",
            'metadata', a."metadata", 'created_at', a."created_at"
        )), '[]') INTO "v_accounts"
        FROM "account" a WHERE a."id" = ANY("v_unknown_account_ids");
    END IF;

    RETURN jsonb_build_object(
        'balances', "v_balances", 'head', "v_head", 'keys', "v_keys", 'resolutions', "v_resolutions",
        'pendings', "v_pendings", 'pending_entries', "v_pending_entries", 'accounts', "v_accounts"
    );
END;
$$;

CREATE OR REPLACE FUNCTION "ledger_write_batch"(
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
) RETURNS VOID LANGUAGE plpgsql SET "plan_cache_mode" = force_generic_plan SET "enable_seqscan" = off AS $$
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

    IF coalesce(cardinality("o_transaction_id"), 0) > 0 THEN
        INSERT INTO "open_pending" ("transaction_id", "timeout_at") SELECT * FROM unnest("o_transaction_id", "o_timeout_at");
    END IF;

    IF coalesce(cardinality("c_transaction_id"), 0) > 0 THEN
        DELETE FROM "open_pending" WHERE "transaction_id" = ANY("c_transaction_id");
        GET DIAGNOSTICS "v_count" = ROW_COUNT;
        IF "v_count" <> cardinality("c_transaction_id") THEN
            RAISE EXCEPTION 'ledger: closed % of % open pending transactions', "v_count", cardinality("c_transaction_id");
        END IF;
    END IF;

    UPDATE "chain_head" SET "sequence" = "h_sequence", "hash" = "h_hash", "created_at" = "h_created_at" WHERE "id" = 1;
END;
$$;

-- The checks that join new rows to growing tables plan the same way when a
-- statement reaches them directly (not through ledger_write_batch).
ALTER FUNCTION "ledger_check_chain_links"() SET "enable_seqscan" = off SET "enable_hashjoin" = off SET "enable_mergejoin" = off;
ALTER FUNCTION "ledger_check_chain_head_update"() SET "enable_seqscan" = off;
ALTER FUNCTION "ledger_check_resolution_target"() SET "enable_seqscan" = off;
-- The balance check joins the statement's old and new rows (two transition
-- tables, nothing else) and looks for one that went back: `LIMIT 1` makes a
-- nested loop look cheapest whenever the first batch on a connection was large,
-- and since no row ever matches it then compares every pair — 1000 × 1000 for a
-- batch of 1000 transfers, about 33 ms (pg_stat_statements). A hash join is
-- linear whatever the sizes.
ALTER FUNCTION "ledger_check_balance_updates"() SET "enable_nestloop" = off;

-- The entry checks of the first migration, with the account check made once
-- per distinct account and currency of the statement rather than twice per
-- entry (a batch of 1000 transfers names about as many accounts as it has
-- entries' worth of pairs): same three rules, same errors.
CREATE OR REPLACE FUNCTION "ledger_check_new_entries"() RETURNS trigger LANGUAGE plpgsql
    SET "enable_seqscan" = off SET "enable_hashjoin" = off SET "enable_mergejoin" = off AS $$
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
    SELECT named."account_id", named."currency" INTO broken
    FROM (
        SELECT "account_id", "currency" FROM "new_entries"
        UNION
        SELECT "counterparty_account_id", "currency" FROM "new_entries"
    ) AS named
    LEFT JOIN "account" a ON a."id" = named."account_id" AND a."currency" = named."currency"
    WHERE a."id" IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: an entry names account %, which does not exist or holds another currency than %', broken."account_id", broken."currency"
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;

-- 4. Planning outside the lock window (README: "What serialises batches").
--    A batch of transfers may be planned on a state read without locks (and
--    laid over the batches this writer planned but has not seen committed),
--    then locked and checked in the same pipelined round trip as its write:
--    ledger_lock_planned_batch takes the same locks in the same order as
--    ledger_lock_batch and refuses, with SQLSTATE LG001, unless the chain head
--    and every named balance are exactly what the plan assumed. Nothing is
--    written on a refusal; the writer plans the batch again under the lock.
--    Transfers depend only on balances, keys and the head: a committed key
--    moves the head, so an unchanged head means unchanged keys.
CREATE FUNCTION "ledger_read_batch"(
    "p_account_ids" UUID[],
    "p_key_scopes" TEXT[],
    "p_keys" TEXT[],
    "p_known_account_ids" UUID[]
) RETURNS JSONB LANGUAGE plpgsql STABLE
    SET "plan_cache_mode" = force_generic_plan SET "enable_seqscan" = off SET "enable_hashjoin" = off SET "enable_mergejoin" = off AS $$
DECLARE
    "v_balances" JSONB;
    "v_head" JSONB;
    "v_keys" JSONB;
    "v_accounts" JSONB;
BEGIN
    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'account_id', b."account_id", 'debits_posted', b."debits_posted"::text, 'credits_posted', b."credits_posted"::text,
        'debits_pending', b."debits_pending"::text, 'credits_pending', b."credits_pending"::text, 'last_sequence', b."last_sequence"::text
    )), '[]') INTO "v_balances" FROM "account_balance" b WHERE b."account_id" = ANY("p_account_ids");

    SELECT jsonb_build_object('sequence', h."sequence"::text, 'hash', encode(h."hash", 'hex'), 'created_at', h."created_at")
        INTO "v_head" FROM "chain_head" h WHERE h."id" = 1;

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', t."id", 'idempotency_scope', t."idempotency_scope", 'idempotency_key', t."idempotency_key",
        'request_hash', encode(t."request_hash", 'hex')
    )), '[]') INTO "v_keys"
    FROM unnest("p_key_scopes", "p_keys") AS k("scope", "key")
    JOIN "ledger_transaction" t ON t."idempotency_scope" = k."scope" AND t."idempotency_key" = k."key";

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', a."id", 'owner_id', a."owner_id", 'currency', a."currency", 'kind', a."kind",
        'debits_must_not_exceed_credits', a."debits_must_not_exceed_credits",
        'credits_must_not_exceed_debits', a."credits_must_not_exceed_debits", 'address', a."address",
        'metadata', a."metadata", 'created_at', a."created_at"
    )), '[]') INTO "v_accounts"
    FROM "account" a WHERE a."id" IN (SELECT unnest("p_account_ids") EXCEPT SELECT unnest("p_known_account_ids"));

    -- STABLE, so every statement above read the calling query's snapshot: one consistent state.
    RETURN jsonb_build_object('balances', "v_balances", 'head', "v_head", 'keys', "v_keys", 'accounts', "v_accounts");
END;
$$;

CREATE FUNCTION "ledger_lock_planned_batch"(
    "p_account_ids" UUID[], "p_debits_posted" NUMERIC[], "p_credits_posted" NUMERIC[], "p_debits_pending" NUMERIC[],
    "p_credits_pending" NUMERIC[], "p_last_sequence" BIGINT[],
    "p_head_sequence" BIGINT, "p_head_hash" BYTEA
) RETURNS VOID LANGUAGE plpgsql
    SET "plan_cache_mode" = force_generic_plan SET "enable_seqscan" = off AS $$
DECLARE
    "v_count" BIGINT;
    "v_head" RECORD;
BEGIN
    -- The one lock order (as in ledger_lock_batch): the chain head, then balance rows by account id.
    SELECT h."sequence", h."hash" INTO "v_head" FROM "chain_head" h WHERE h."id" = 1 FOR UPDATE;
    IF "v_head"."sequence" <> "p_head_sequence" OR "v_head"."hash" <> "p_head_hash" THEN
        RAISE EXCEPTION 'ledger: the batch was planned after sequence %, the chain is at %', "p_head_sequence", "v_head"."sequence"
            USING ERRCODE = 'LG001';
    END IF;
    PERFORM 1 FROM "account_balance" WHERE "account_id" = ANY("p_account_ids") ORDER BY "account_id" FOR UPDATE;
    SELECT count(*) INTO "v_count"
    FROM unnest("p_account_ids", "p_debits_posted", "p_credits_posted", "p_debits_pending", "p_credits_pending", "p_last_sequence")
        AS e("account_id", "debits_posted", "credits_posted", "debits_pending", "credits_pending", "last_sequence")
    JOIN "account_balance" b ON b."account_id" = e."account_id"
    WHERE b."debits_posted" = e."debits_posted" AND b."credits_posted" = e."credits_posted"
      AND b."debits_pending" = e."debits_pending" AND b."credits_pending" = e."credits_pending"
      AND b."last_sequence" = e."last_sequence";
    IF "v_count" <> coalesce(cardinality("p_account_ids"), 0) THEN
        RAISE EXCEPTION 'ledger: % of % balances changed since the batch was planned', coalesce(cardinality("p_account_ids"), 0) - "v_count",
            coalesce(cardinality("p_account_ids"), 0) USING ERRCODE = 'LG001';
    END IF;
END;
$$;
