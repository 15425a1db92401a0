// Small builders shared by the ledger's tests: wallets, system accounts,
// transfers and balances through the real RPCs.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { LedgerService } from "@trustmesh/api";
import { AccountKind } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import type { LedgerPlatform } from "./ledger-platform.ts";

const methods = LedgerService.method;

export async function createWallet(platform: LedgerPlatform, token: string, ownerId: string, currency: string): Promise<string> {
  const response = await platform.call(
    methods.createAccount,
    {
      idempotencyKey: `wallet:${ownerId}:${currency}`,
      ownerId,
      currency,
      kind: AccountKind.USER_WALLET,
      flags: { debitsMustNotExceedCredits: true },
    },
    token,
  );
  assert.ok(response.account);
  return response.account.id;
}

/** The id of a system account the ledger created at start, e.g. ("system:external:sandbox", "USD"). */
export async function systemAccount(platform: LedgerPlatform, token: string, prefix: string, currency: string): Promise<string> {
  const response = await platform.call(methods.getAccount, { selector: { case: "address", value: `${prefix}:${currency}` } }, token);
  assert.ok(response.account);
  return response.account.id;
}

export function posting(debitAccountId: string, creditAccountId: string, currency: string, amountMinor: bigint | string) {
  return { debitAccountId, creditAccountId, amount: { currency, amountMinor: amountMinor.toString() } };
}

/** Posts one transfer and returns the committed transaction. */
export async function transfer(
  platform: LedgerPlatform,
  token: string,
  postings: ReturnType<typeof posting>[],
  options: { key?: string; pending?: boolean; timeoutSeconds?: number; reference?: string } = {},
) {
  const response = await platform.call(
    methods.postTransaction,
    {
      transaction: {
        idempotencyKey: options.key ?? `test:${randomUUID()}`,
        postings,
        pending: options.pending ?? false,
        pendingTimeout: options.pending ? { seconds: BigInt(options.timeoutSeconds ?? 3600) } : undefined,
        reference: options.reference ?? "",
      },
    },
    token,
  );
  assert.ok(response.transaction);
  return response.transaction;
}

export async function balanceOf(platform: LedgerPlatform, token: string, accountId: string) {
  const response = await platform.call(methods.getBalance, { accountId }, token);
  assert.ok(response.balance);
  return response.balance;
}
