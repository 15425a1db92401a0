// The SQL half of Reconcile: every figure recomputed from entries and compared
// with what is stored, inside the caller's REPEATABLE READ snapshot so all
// queries see the same committed state. Each query returns at most `limit`
// findings; the reconciler reports that more exist.
import type { Currency } from "../domain/money.ts";
import type { Queryable } from "./database.ts";

export interface ReconcileScope {
  /** null: every account. */
  accountIds: string[] | null;
  /** null: every currency. */
  currencies: Currency[] | null;
}

const scopedAccounts = `scoped AS (
  SELECT a.id, a.currency FROM account a
  WHERE ($1::uuid[] IS NULL OR a.id = ANY($1::uuid[])) AND ($2::text[] IS NULL OR a.currency = ANY($2::text[]))
)`;

function scopeValues(scope: ReconcileScope): unknown[] {
  return [scope.accountIds, scope.currencies];
}

export async function countScope(database: Queryable, scope: ReconcileScope): Promise<{ accounts: bigint; entries: bigint }> {
  const result = await database.query<{ accounts: string; entries: string }>(
    `WITH ${scopedAccounts}
     SELECT (SELECT count(*) FROM scoped) AS accounts,
            (SELECT count(*) FROM ledger_entry e JOIN scoped s ON s.id = e.account_id) AS entries`,
    scopeValues(scope),
  );
  const row = result.rows[0];
  return { accounts: BigInt(row?.accounts ?? "0"), entries: BigInt(row?.entries ?? "0") };
}

export interface TotalsMismatchRow {
  account_id: string;
  currency: string;
  stored_debits_posted: string;
  stored_credits_posted: string;
  stored_debits_pending: string;
  stored_credits_pending: string;
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
}

/** Accounts whose stored totals differ from the sums of their entries. */
export async function findTotalsMismatches(database: Queryable, scope: ReconcileScope, limit: number): Promise<TotalsMismatchRow[]> {
  const result = await database.query<TotalsMismatchRow>(
    `WITH ${scopedAccounts},
     recomputed AS (
       SELECT e.account_id,
         COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'DEBIT' AND e.transaction_kind IN ('POSTED', 'POST_PENDING')), 0) AS debits_posted,
         COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'CREDIT' AND e.transaction_kind IN ('POSTED', 'POST_PENDING')), 0) AS credits_posted,
         COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'DEBIT' AND e.transaction_kind = 'PENDING' AND r.id IS NULL), 0) AS debits_pending,
         COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'CREDIT' AND e.transaction_kind = 'PENDING' AND r.id IS NULL), 0) AS credits_pending
       FROM ledger_entry e
       JOIN scoped s ON s.id = e.account_id
       LEFT JOIN ledger_transaction r ON r.pending_transaction_id IS NOT NULL AND r.pending_transaction_id = e.transaction_id
       GROUP BY e.account_id
     )
     SELECT s.id AS account_id, s.currency,
       b.debits_posted AS stored_debits_posted, b.credits_posted AS stored_credits_posted,
       b.debits_pending AS stored_debits_pending, b.credits_pending AS stored_credits_pending,
       COALESCE(c.debits_posted, 0) AS debits_posted, COALESCE(c.credits_posted, 0) AS credits_posted,
       COALESCE(c.debits_pending, 0) AS debits_pending, COALESCE(c.credits_pending, 0) AS credits_pending
     FROM scoped s
     JOIN account_balance b ON b.account_id = s.id
     LEFT JOIN recomputed c ON c.account_id = s.id
     WHERE b.debits_posted <> COALESCE(c.debits_posted, 0) OR b.credits_posted <> COALESCE(c.credits_posted, 0)
        OR b.debits_pending <> COALESCE(c.debits_pending, 0) OR b.credits_pending <> COALESCE(c.credits_pending, 0)
     ORDER BY s.id
     LIMIT $3`,
    [...scopeValues(scope), limit],
  );
  return result.rows;
}

export interface RunningDivergenceRow {
  account_id: string;
  currency: string;
  transaction_id: string;
  expected: string;
  actual: string;
}

/**
 * For each account, the first entry whose stored posted_balance_after differs
 * from the running sum of the account's posted entries up to it: where the
 * account's history stops adding up.
 */
export async function findRunningDivergences(database: Queryable, scope: ReconcileScope, limit: number): Promise<RunningDivergenceRow[]> {
  const result = await database.query<RunningDivergenceRow>(
    `WITH ${scopedAccounts},
     running AS (
       SELECT e.account_id, e.currency, e.transaction_id, e.sequence, e.posting_index, e.posted_balance_after AS actual,
         sum(CASE WHEN e.transaction_kind IN ('POSTED', 'POST_PENDING')
                  THEN CASE e.direction WHEN 'CREDIT' THEN e.amount ELSE -e.amount END ELSE 0 END)
           OVER (PARTITION BY e.account_id ORDER BY e.sequence, e.posting_index ROWS UNBOUNDED PRECEDING) AS expected
       FROM ledger_entry e JOIN scoped s ON s.id = e.account_id
     )
     SELECT DISTINCT ON (account_id) account_id, currency, transaction_id, expected, actual
     FROM running WHERE expected <> actual
     ORDER BY account_id, sequence, posting_index
     LIMIT $3`,
    [...scopeValues(scope), limit],
  );
  return result.rows;
}

export interface UnbalancedRow {
  transaction_id: string;
  currency: string;
  debits: string;
  credits: string;
}

/** Transactions whose entries do not balance per currency, over the whole ledger. */
export async function findUnbalancedTransactions(database: Queryable, limit: number): Promise<UnbalancedRow[]> {
  const result = await database.query<UnbalancedRow>(
    `SELECT e.transaction_id, e.currency,
       COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'DEBIT'), 0) AS debits,
       COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'CREDIT'), 0) AS credits
     FROM ledger_entry e
     GROUP BY e.transaction_id, e.currency
     HAVING COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'DEBIT'), 0) <> COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'CREDIT'), 0)
     ORDER BY e.transaction_id
     LIMIT $1`,
    [limit],
  );
  return result.rows;
}

export interface CurrencyTotalRow {
  currency: string;
  posted: string;
  pending: string;
}

/** Sums of stored balances per currency, over the whole ledger; double entry keeps each at zero. */
export async function sumStoredBalances(database: Queryable): Promise<CurrencyTotalRow[]> {
  const result = await database.query<CurrencyTotalRow>(
    `SELECT a.currency,
       COALESCE(sum(b.credits_posted - b.debits_posted), 0) AS posted,
       COALESCE(sum(b.credits_pending - b.debits_pending), 0) AS pending
     FROM account a JOIN account_balance b ON b.account_id = a.id
     GROUP BY a.currency ORDER BY a.currency`,
  );
  return result.rows;
}

export interface FlagViolationRow {
  account_id: string;
  currency: string;
  posted: string;
  available: string;
}

/** Stored balances that break their account's flags or have a negative total. */
export async function findFlagViolations(database: Queryable, scope: ReconcileScope, limit: number): Promise<FlagViolationRow[]> {
  const result = await database.query<FlagViolationRow>(
    `WITH ${scopedAccounts}
     SELECT a.id AS account_id, a.currency, b.credits_posted - b.debits_posted AS posted,
       b.credits_posted - b.debits_posted - b.debits_pending AS available
     FROM scoped s JOIN account a ON a.id = s.id JOIN account_balance b ON b.account_id = a.id
     WHERE (a.debits_must_not_exceed_credits AND b.debits_posted + b.debits_pending > b.credits_posted)
        OR (a.credits_must_not_exceed_debits AND b.credits_posted + b.credits_pending > b.debits_posted)
        OR (a.kind = 'USER_WALLET' AND b.credits_posted - b.debits_posted < 0)
        OR b.debits_posted < 0 OR b.credits_posted < 0 OR b.debits_pending < 0 OR b.credits_pending < 0
     ORDER BY a.id
     LIMIT $3`,
    [...scopeValues(scope), limit],
  );
  return result.rows;
}

export interface PendingProblemRow {
  transaction_id: string;
  problem: "not_listed_open" | "listed_but_resolved" | "overdue";
}

/**
 * Disagreements between the open-pending list and the transactions: an open
 * pending transaction missing from the list, a listed one that is resolved or
 * not pending, and one still open long after its timeout (the sweeper is stuck).
 */
export async function findPendingProblems(database: Queryable, overdueBefore: Date, limit: number): Promise<PendingProblemRow[]> {
  const result = await database.query<PendingProblemRow>(
    `(SELECT t.id AS transaction_id, 'not_listed_open' AS problem
      FROM ledger_transaction t
      LEFT JOIN ledger_transaction r ON r.pending_transaction_id IS NOT NULL AND r.pending_transaction_id = t.id
      LEFT JOIN open_pending o ON o.transaction_id = t.id
      WHERE t.kind = 'PENDING' AND r.id IS NULL AND o.transaction_id IS NULL
      LIMIT $2)
     UNION ALL
     (SELECT o.transaction_id, 'listed_but_resolved' AS problem
      FROM open_pending o
      LEFT JOIN ledger_transaction t ON t.id = o.transaction_id
      LEFT JOIN ledger_transaction r ON r.pending_transaction_id IS NOT NULL AND r.pending_transaction_id = o.transaction_id
      WHERE t.kind IS DISTINCT FROM 'PENDING' OR r.id IS NOT NULL
      LIMIT $2)
     UNION ALL
     (SELECT o.transaction_id, 'overdue' AS problem FROM open_pending o WHERE o.timeout_at < $1 ORDER BY o.timeout_at LIMIT $2)`,
    [overdueBefore, limit],
  );
  return result.rows;
}
