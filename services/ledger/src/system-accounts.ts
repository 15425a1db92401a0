// The platform's own accounts, one of each kind per currency, created at start
// so payments can find them by address from its first call. Creation goes
// through the same idempotent path as CreateAccount, under the ledger's own
// key space, so replicas starting together create each exactly once.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { type Currency, supportedCurrencies } from "./domain/money.ts";
import type { AccountFlags, AccountKindName } from "./domain/records.ts";
import { createAccountRequestHash } from "./service/accounts.ts";
import { createAccount } from "./store/accounts.ts";

interface SystemAccountKind {
  kind: AccountKindName;
  /** Address prefix; the currency code is the last segment. */
  prefix: string;
  flags: AccountFlags;
}

/**
 * Fees and money held for counterparties can only be paid out of what came in,
 * so those accounts can never go negative. Settlement and the sandbox rail's
 * outside world carry no flag: money in transit and money brought in from
 * outside go either way.
 */
export const systemAccountKinds: readonly SystemAccountKind[] = [
  { kind: "FEE_REVENUE", prefix: "system:fee_revenue", flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false } },
  { kind: "SETTLEMENT", prefix: "system:settlement", flags: { debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: false } },
  { kind: "CLEARING", prefix: "system:clearing", flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false } },
  {
    kind: "EXTERNAL_RAIL",
    prefix: "system:external:sandbox",
    flags: { debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: false },
  },
];

export function systemAccountAddress(prefix: string, currency: Currency): string {
  return `${prefix}:${currency}`;
}

/** Creates the missing system accounts; returns how many were created now. */
export async function ensureSystemAccounts(pool: pg.Pool, now: () => Date): Promise<number> {
  let created = 0;
  for (const currency of supportedCurrencies) {
    for (const { kind, prefix, flags } of systemAccountKinds) {
      const address = systemAccountAddress(prefix, currency);
      const request = { ownerId: null, currency, kind, ...flags, address, metadata: {} };
      const outcome = await createAccount(pool, {
        ...request,
        id: randomUUID(),
        idempotencyScope: "ledger",
        idempotencyKey: `system:${address}`,
        requestHash: createAccountRequestHash(request),
        createdAt: now(),
      });
      if (outcome.status === "conflict") throw new Error(`ledger: system account ${address} exists with other properties`);
      if (outcome.status === "created") created++;
    }
  }
  return created;
}
