-- A batch of transfers planned outside the lock window commits in one
-- statement (services/ledger/README.md, "One round trip"). The checks are
-- those of ledger_lock_planned_batch, which this replaces, and the write is
-- ledger_write_batch's; only the way there changes.
--
-- 1. One statement, one round trip. The statement is its own transaction
--    (no BEGIN, no COMMIT): it locks the chain head, checks the plan, writes,
--    and commits when it returns; any exception rolls all of it back.
-- 2. No balance row locks. Balances change only in ledger_write_batch, and
--    every transaction that calls it (this function, and the batches planned
--    under ledger_lock_batch) first takes the chain head FOR UPDATE; account
--    creation only inserts. So holding the head is holding every balance:
--    the check below reads, with a snapshot taken after the head was
--    granted, the balances as the last writer left them, and nothing changes
--    them before this transaction ends. Locking the rows as well cost a
--    tuple write and a WAL record per account for no added safety.
-- 3. Keys the plan did not read. The service may plan on balances it already
--    knows instead of reading them (the state after its own batches), and
--    then takes a key it has not seen for new. A key that a committed
--    transaction already holds must refuse such a plan, as a moved balance
--    does, so that the key still takes effect exactly once: for the
--    transactions the plan writes, the key's unique index does that (the
--    service takes its violation as a refusal); for the operations the plan
--    rejected, which write nothing, their keys are looked up here, under the
--    head lock, and one that is taken raises LG001.

DROP FUNCTION "ledger_lock_planned_batch"(UUID[], NUMERIC[], NUMERIC[], NUMERIC[], NUMERIC[], BIGINT[], BIGINT, BYTEA);

-- The first of these keys that a committed transaction holds, as "key of
-- scope", or null. A function of its own for its planner settings: a join of a
-- batch's keys to the key index must stay index lookups, and settings given to
-- a function hold for everything it calls, which must not include the write's
-- statements and triggers (the balance check needs a hash join).
CREATE FUNCTION "ledger_first_taken_key"("p_scopes" TEXT[], "p_keys" TEXT[]) RETURNS TEXT LANGUAGE sql STABLE
    SET "plan_cache_mode" = force_generic_plan SET "enable_seqscan" = off SET "enable_hashjoin" = off SET "enable_mergejoin" = off AS $$
    SELECT t."idempotency_key" || ' of ' || t."idempotency_scope"
    FROM unnest("p_scopes", "p_keys") AS k("scope", "key")
    JOIN "ledger_transaction" t ON t."idempotency_scope" = k."scope" AND t."idempotency_key" = k."key"
    LIMIT 1;
$$;

CREATE FUNCTION "ledger_commit_planned_batch"(
    "p_account_ids" UUID[], "p_debits_posted" NUMERIC[], "p_credits_posted" NUMERIC[], "p_debits_pending" NUMERIC[],
    "p_credits_pending" NUMERIC[], "p_last_sequence" BIGINT[],
    "p_head_sequence" BIGINT, "p_head_hash" BYTEA,
    "p_rejected_key_scopes" TEXT[], "p_rejected_keys" TEXT[],
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
) RETURNS VOID LANGUAGE plpgsql
    SET "plan_cache_mode" = force_generic_plan SET "enable_seqscan" = off AS $$
DECLARE
    "v_count" BIGINT;
    "v_head" RECORD;
    "v_taken" TEXT;
BEGIN
    SELECT h."sequence", h."hash" INTO "v_head" FROM "chain_head" h WHERE h."id" = 1 FOR UPDATE;
    IF "v_head"."sequence" <> "p_head_sequence" OR "v_head"."hash" <> "p_head_hash" THEN
        RAISE EXCEPTION 'ledger: the batch was planned after sequence %, the chain is at %', "p_head_sequence", "v_head"."sequence"
            USING ERRCODE = 'LG001';
    END IF;

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

    IF coalesce(cardinality("p_rejected_keys"), 0) > 0 THEN
        "v_taken" := "ledger_first_taken_key"("p_rejected_key_scopes", "p_rejected_keys");
        IF "v_taken" IS NOT NULL THEN
            RAISE EXCEPTION 'ledger: key % was rejected as new and is taken', "v_taken" USING ERRCODE = 'LG001';
        END IF;
    END IF;

    IF coalesce(cardinality("t_id"), 0) > 0 THEN
        PERFORM "ledger_write_batch"("t_id", "t_sequence", "t_kind", "t_scope", "t_key", "t_request_hash", "t_reference", "t_metadata",
            "t_pending_transaction_id", "t_timeout_at", "t_void_reason", "t_created_by", "t_previous_hash", "t_hash", "t_created_at",
            "e_id", "e_transaction_id", "e_sequence", "e_transaction_kind", "e_posting_index", "e_account_id", "e_counterparty_account_id",
            "e_direction", "e_currency", "e_amount", "e_posted_balance_after", "e_available_balance_after", "e_reference", "e_created_at",
            "b_account_id", "b_debits_posted", "b_credits_posted", "b_debits_pending", "b_credits_pending", "b_last_sequence",
            "o_transaction_id", "o_timeout_at", "c_transaction_id", "h_sequence", "h_hash", "h_created_at");
    END IF;
END;
$$;
