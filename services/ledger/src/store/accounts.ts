// Accounts and their balance rows. An account and its balance are created in
// one database transaction, so an account never exists without a balance, and
// neither is ever deleted.
import type pg from "pg";
import type { Currency } from "../domain/money.ts";
import type { AccountKindName, AccountRecord, BalanceRecord } from "../domain/records.ts";
import { inTransaction, type Queryable } from "./database.ts";
import { type AccountRow, accountColumns, type BalanceRow, balanceColumns, toAccount, toBalance } from "./rows.ts";

/** An account to create, under the key (and request hash) that makes creation retry-safe. */
export interface NewAccount extends AccountRecord {
  idempotencyScope: string;
  idempotencyKey: string;
  requestHash: Buffer;
}

export type CreateAccountOutcome =
  | { status: "created" | "replayed"; account: AccountRecord; balance: BalanceRecord }
  /** Nothing was created: the key was used with another request, the address is taken, or the owner has a wallet in that currency. */
  | { status: "conflict"; conflict: "idempotency" | "address" | "wallet" };

export interface AccountWithBalance {
  account: AccountRecord;
  balance: BalanceRecord;
}

type AccountBalanceRow = AccountRow & BalanceRow;

function toAccountWithBalance(row: AccountBalanceRow): AccountWithBalance {
  return { account: toAccount(row), balance: toBalance(row) };
}

const selectWithBalance = `SELECT ${accountColumns}, ${balanceColumns} FROM account a JOIN account_balance b ON b.account_id = a.id`;

export async function createAccount(pool: pg.Pool, input: NewAccount): Promise<CreateAccountOutcome> {
  return inTransaction(pool, "BEGIN", async (client) => {
    // ON CONFLICT DO NOTHING without a target covers every unique index: the
    // key, the address and the one-wallet-per-owner-and-currency index.
    const inserted = await client.query(
      `INSERT INTO account (id, owner_id, currency, kind, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
         address, metadata, idempotency_scope, idempotency_key, request_hash, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT DO NOTHING`,
      [
        input.id,
        input.ownerId,
        input.currency,
        input.kind,
        input.debitsMustNotExceedCredits,
        input.creditsMustNotExceedDebits,
        input.address,
        input.metadata,
        input.idempotencyScope,
        input.idempotencyKey,
        input.requestHash,
        input.createdAt,
      ],
    );
    if (inserted.rowCount === 1) {
      await client.query(
        `INSERT INTO account_balance (account_id, debits_must_not_exceed_credits, credits_must_not_exceed_debits, updated_at)
         VALUES ($1, $2, $3, $4)`,
        [input.id, input.debitsMustNotExceedCredits, input.creditsMustNotExceedDebits, input.createdAt],
      );
      const created = await findAccountWithBalance(client, { id: input.id });
      if (created === undefined) throw new Error(`ledger: account ${input.id} vanished after insert`);
      return { status: "created", ...created };
    }
    const earlier = await client.query<AccountBalanceRow & { request_hash: Buffer }>(
      `SELECT a.request_hash, ${accountColumns}, ${balanceColumns} FROM account a JOIN account_balance b ON b.account_id = a.id
       WHERE a.idempotency_scope = $1 AND a.idempotency_key = $2`,
      [input.idempotencyScope, input.idempotencyKey],
    );
    const row = earlier.rows[0];
    if (row !== undefined) {
      return row.request_hash.equals(input.requestHash)
        ? { status: "replayed", ...toAccountWithBalance(row) }
        : { status: "conflict", conflict: "idempotency" };
    }
    if (input.address !== null) {
      const taken = await client.query("SELECT 1 FROM account WHERE address = $1", [input.address]);
      if (taken.rowCount === 1) return { status: "conflict", conflict: "address" };
    }
    return { status: "conflict", conflict: "wallet" };
  });
}

export async function findAccountWithBalance(
  database: Queryable,
  selector: { id: string } | { address: string },
): Promise<AccountWithBalance | undefined> {
  const [column, value] = "id" in selector ? ["a.id", selector.id] : ["a.address", selector.address];
  const result = await database.query<AccountBalanceRow>(`${selectWithBalance} WHERE ${column} = $1`, [value]);
  const row = result.rows[0];
  return row === undefined ? undefined : toAccountWithBalance(row);
}

export interface AccountFilter {
  ownerId?: string;
  currency?: Currency;
  kind?: AccountKindName;
}

export interface AccountCursor {
  createdAt: Date;
  id: string;
}

/** One page of accounts in creation order, each with its balance. */
export async function listAccounts(
  database: Queryable,
  filter: AccountFilter,
  after: AccountCursor | undefined,
  limit: number,
): Promise<AccountWithBalance[]> {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (filter.ownerId !== undefined) conditions.push(`a.owner_id = ${bind(filter.ownerId)}`);
  if (filter.currency !== undefined) conditions.push(`a.currency = ${bind(filter.currency)}`);
  if (filter.kind !== undefined) conditions.push(`a.kind = ${bind(filter.kind)}`);
  if (after !== undefined) conditions.push(`(a.created_at, a.id) > (${bind(after.createdAt)}, ${bind(after.id)}::uuid)`);
  const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
  const result = await database.query<AccountBalanceRow>(
    `${selectWithBalance} ${where} ORDER BY a.created_at, a.id LIMIT ${bind(limit)}`,
    values,
  );
  return result.rows.map(toAccountWithBalance);
}
