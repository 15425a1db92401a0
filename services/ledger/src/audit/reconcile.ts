// Reconcile: recompute every balance from entries and compare with what is
// stored, check that each transaction and each currency balances, that no
// balance breaks its flags, that the open-pending list agrees with the
// transactions, and walk the hash chain — all in one REPEATABLE READ READ ONLY
// snapshot, so concurrent commits neither block it nor show up half-done.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { minorFromDatabase, supportedCurrencies } from "../domain/money.ts";
import { readHead } from "../store/chain.ts";
import { inTransaction } from "../store/database.ts";
import {
  countScope,
  findFlagViolations,
  findPendingProblems,
  findRunningDivergences,
  findTotalsMismatches,
  findUnbalancedTransactions,
  type ReconcileScope,
  sumStoredBalances,
} from "../store/reconcile-queries.ts";
import { type ChainVerificationRecord, verifyChain } from "./verify-chain.ts";

export type DiscrepancyKindName =
  | "BALANCE_MISMATCH"
  | "TRANSACTION_UNBALANCED"
  | "CURRENCY_NOT_ZERO"
  | "FLAG_VIOLATED"
  | "PENDING_MISMATCH";

export interface DiscrepancyRecord {
  kind: DiscrepancyKindName;
  accountId: string;
  transactionId: string;
  currency: string;
  figure: string;
  expectedMinor: string;
  actualMinor: string;
  detail: string;
}

export interface ReconciliationRecord {
  id: string;
  startedAt: Date;
  finishedAt: Date;
  asOfSequence: bigint;
  clean: boolean;
  accountsChecked: bigint;
  entriesChecked: bigint;
  discrepancies: DiscrepancyRecord[];
  discrepanciesTruncated: boolean;
  currencyTotals: { currency: string; postedMinor: string; pendingMinor: string }[];
  chain: ChainVerificationRecord;
}

export interface ReconcileOptions {
  /** Chain pages and bound: the same as VerifyChain's. */
  chain: { pageSize: number; transactionsMax: number };
  /** An open pending transaction this long past its timeout means the sweeper is not keeping up. */
  overdueGraceMs: number;
  now(): Date;
}

const discrepanciesMax = 1000;

const figures = ["debits_posted", "credits_posted", "debits_pending", "credits_pending"] as const;

export async function reconcile(pool: pg.Pool, scope: ReconcileScope, options: ReconcileOptions): Promise<ReconciliationRecord> {
  const startedAt = options.now();
  return inTransaction(pool, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", async (client) => {
    const head = await readHead(client);
    const limit = discrepanciesMax + 1;
    const counts = await countScope(client, scope);
    const totals = await findTotalsMismatches(client, scope, limit);
    const divergences = await findRunningDivergences(client, scope, limit);
    const unbalanced = await findUnbalancedTransactions(client, limit);
    const currencyRows = await sumStoredBalances(client);
    const violations = await findFlagViolations(client, scope, limit);
    const pendingProblems = await findPendingProblems(client, new Date(startedAt.getTime() - options.overdueGraceMs), limit);
    const chain = await verifyChain(client, {
      fromSequence: 0n,
      toSequence: head.sequence,
      expectedLastHash: Buffer.alloc(0),
      ...options.chain,
    });

    const found: DiscrepancyRecord[] = [];
    const add = (discrepancy: Partial<DiscrepancyRecord> & Pick<DiscrepancyRecord, "kind" | "detail">) =>
      found.push({ accountId: "", transactionId: "", currency: "", figure: "", expectedMinor: "", actualMinor: "", ...discrepancy });

    // Where each account's history first stops adding up names the transaction to blame.
    const firstDivergence = new Map(divergences.map((row) => [row.account_id, row]));
    for (const row of totals) {
      const blamed = firstDivergence.get(row.account_id)?.transaction_id ?? "";
      for (const figure of figures) {
        const expected = minorFromDatabase(row[figure]);
        const actual = minorFromDatabase(row[`stored_${figure}`]);
        if (expected === actual) continue;
        add({
          kind: figure.endsWith("pending") ? "PENDING_MISMATCH" : "BALANCE_MISMATCH",
          accountId: row.account_id,
          transactionId: blamed,
          currency: row.currency,
          figure,
          expectedMinor: expected.toString(),
          actualMinor: actual.toString(),
          detail: `stored ${figure} of account ${row.account_id} differs from the sum of its entries`,
        });
      }
    }
    const mismatched = new Set(totals.map((row) => row.account_id));
    for (const row of divergences) {
      if (mismatched.has(row.account_id)) continue;
      add({
        kind: "BALANCE_MISMATCH",
        accountId: row.account_id,
        transactionId: row.transaction_id,
        currency: row.currency,
        figure: "posted_balance_after",
        expectedMinor: minorFromDatabase(row.expected).toString(),
        actualMinor: minorFromDatabase(row.actual).toString(),
        detail: `an entry of account ${row.account_id} records a running balance its history does not add up to`,
      });
    }
    for (const row of unbalanced) {
      add({
        kind: "TRANSACTION_UNBALANCED",
        transactionId: row.transaction_id,
        currency: row.currency,
        figure: "debits",
        expectedMinor: minorFromDatabase(row.credits).toString(),
        actualMinor: minorFromDatabase(row.debits).toString(),
        detail: `transaction ${row.transaction_id} debits and credits differ in ${row.currency}`,
      });
    }
    const byCurrency = new Map(currencyRows.map((row) => [row.currency, row]));
    const currencyTotals = supportedCurrencies.map((currency) => {
      const row = byCurrency.get(currency);
      return {
        currency,
        postedMinor: minorFromDatabase(row?.posted ?? "0").toString(),
        pendingMinor: minorFromDatabase(row?.pending ?? "0").toString(),
      };
    });
    for (const total of currencyTotals) {
      for (const [figure, value] of [
        ["posted", total.postedMinor],
        ["pending", total.pendingMinor],
      ] as const) {
        if (value === "0") continue;
        add({
          kind: "CURRENCY_NOT_ZERO",
          currency: total.currency,
          figure,
          expectedMinor: "0",
          actualMinor: value,
          detail: `${figure} balances in ${total.currency} sum to ${value}, not zero`,
        });
      }
    }
    for (const row of violations) {
      add({
        kind: "FLAG_VIOLATED",
        accountId: row.account_id,
        currency: row.currency,
        figure: "available",
        actualMinor: minorFromDatabase(row.available).toString(),
        detail: `the stored balance of account ${row.account_id} breaks its flags`,
      });
    }
    for (const row of pendingProblems) {
      const detail = {
        not_listed_open: `pending transaction ${row.transaction_id} is open but missing from the sweeper's list`,
        listed_but_resolved: `pending transaction ${row.transaction_id} is listed open but is resolved or not pending`,
        overdue: `pending transaction ${row.transaction_id} is open long past its timeout`,
      }[row.problem];
      add({ kind: "PENDING_MISMATCH", transactionId: row.transaction_id, figure: row.problem, detail });
    }

    return {
      id: randomUUID(),
      startedAt,
      finishedAt: options.now(),
      asOfSequence: head.sequence,
      clean: found.length === 0 && chain.intact && !chain.truncated,
      accountsChecked: counts.accounts,
      entriesChecked: counts.entries,
      discrepancies: found.slice(0, discrepanciesMax),
      discrepanciesTruncated: found.length > discrepanciesMax,
      currencyTotals,
      chain,
    };
  });
}
