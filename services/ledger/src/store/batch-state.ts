// What ledger_read_batch and ledger_lock_batch both answer about a batch's
// inputs — its balances, the keys it names, the chain head and the accounts the
// writer does not know yet — and its conversion to records. The answer is rows
// as JSON, with bytes in hex and timestamps as strings.
import { type ChainPosition, idempotencyKeyId } from "../domain/engine.ts";
import type { AccountRecord, BalanceRecord } from "../domain/records.ts";
import { hex } from "./database.ts";
import { type AccountRow, type BalanceRow, toAccount, toBalance } from "./rows.ts";

export interface BatchStateJson {
  balances: BalanceRow[];
  head: { sequence: string; hash: string; created_at: string } | null;
  keys: { id: string; idempotency_scope: string; idempotency_key: string; request_hash: string }[];
  accounts: (Omit<AccountRow, "created_at"> & { created_at: string })[];
}

export interface BatchState {
  head: ChainPosition;
  balances: Map<string, BalanceRecord>;
  existingKeys: Map<string, { transactionId: string; requestHash: Buffer }>;
}

/**
 * Converts the answer, and returns it too (as `answer`, checked to be there).
 * The accounts it carries are told to `rememberAccounts` and added to
 * `accounts`, which then holds every account the batch names.
 */
export function toBatchState<S extends BatchStateJson>(
  state: S | undefined,
  accounts: Map<string, AccountRecord>,
  rememberAccounts: (accounts: readonly AccountRecord[]) => void,
): BatchState & { answer: S } {
  if (state?.head === null || state === undefined) throw new Error("ledger: the chain head row is missing");
  const fresh = state.accounts.map((row) => toAccount({ ...row, created_at: new Date(row.created_at) }));
  rememberAccounts(fresh);
  for (const account of fresh) accounts.set(account.id, account);
  return {
    answer: state,
    head: { sequence: BigInt(state.head.sequence), hash: hex(state.head.hash), createdAt: new Date(state.head.created_at) },
    balances: new Map(state.balances.map((row) => [row.account_id, toBalance(row)])),
    existingKeys: new Map(
      state.keys.map((row) => [
        idempotencyKeyId(row.idempotency_scope, row.idempotency_key),
        { transactionId: row.id, requestHash: hex(row.request_hash) },
      ]),
    ),
  };
}
