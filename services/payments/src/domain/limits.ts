// Sending limits: the largest single payment, and what may be sent per
// calendar day and per calendar month in UTC, per user and currency, by tier
// (issue #5). What a payment counts against is fixed when it is accepted (its
// day and month), so a payment accepted at 23:59 and failed at 00:01 gives its
// amount back to the day it was counted in. The race-free check itself is a
// conditional UPDATE in the store; this module only knows numbers and dates.
import { z } from "zod";
import { type Currency, currencies } from "./money.ts";

export const tiers = ["standard", "verified"] as const;
export type Tier = (typeof tiers)[number];

export interface CurrencyLimitLine {
  perTransactionMinor: bigint;
  dailyMinor: bigint;
  monthlyMinor: bigint;
}

export type LimitSchedule = Readonly<Record<Tier, Readonly<Record<Currency, CurrencyLimitLine>>>>;

const limit = (perTransaction: bigint, daily: bigint, monthly: bigint): CurrencyLimitLine => ({
  perTransactionMinor: perTransaction,
  dailyMinor: daily,
  monthlyMinor: monthly,
});

/** The default limits: modest for new users, ten times that once verified. */
export const defaultLimitSchedule: LimitSchedule = {
  standard: {
    USD: limit(100_000n, 250_000n, 1_000_000n), // $1,000 / $2,500 / $10,000
    EUR: limit(100_000n, 250_000n, 1_000_000n),
    USDC: limit(1_000_000_000n, 2_500_000_000n, 10_000_000_000n),
    EURC: limit(1_000_000_000n, 2_500_000_000n, 10_000_000_000n),
    BTC: limit(2_000_000n, 5_000_000n, 20_000_000n), // 0.02 / 0.05 / 0.2 BTC
    ETH: limit(5n * 10n ** 17n, 10n ** 18n, 5n * 10n ** 18n), // 0.5 / 1 / 5 ETH
  },
  verified: {
    USD: limit(1_000_000n, 2_500_000n, 10_000_000n),
    EUR: limit(1_000_000n, 2_500_000n, 10_000_000n),
    USDC: limit(10_000_000_000n, 25_000_000_000n, 100_000_000_000n),
    EURC: limit(10_000_000_000n, 25_000_000_000n, 100_000_000_000n),
    BTC: limit(20_000_000n, 50_000_000n, 200_000_000n),
    ETH: limit(5n * 10n ** 18n, 10n ** 19n, 5n * 10n ** 19n),
  },
};

/** The role in a user's access token that puts them in the verified tier. */
export const verifiedTierRole = "verified";

export function tierOf(roles: readonly string[]): Tier {
  return roles.includes(verifiedTierRole) ? "verified" : "standard";
}

export type LimitWindowName = "daily" | "monthly";

/** The UTC calendar day and month a moment falls in, as their first instants. */
export function periodsOf(at: Date): { dayStart: Date; monthStart: Date } {
  return {
    dayStart: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate())),
    monthStart: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1)),
  };
}

/** When a window that started at `start` starts afresh. */
export function resetsAt(window: LimitWindowName, start: Date): Date {
  return window === "daily"
    ? new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate() + 1))
    : new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

const minorText = z.string().regex(/^[1-9][0-9]{0,77}$/, "a limit is a positive decimal string of minor units");
const lineSchema = z.object({ perTransactionMinor: minorText, dailyMinor: minorText, monthlyMinor: minorText });

/**
 * Reads PAYMENTS_LIMITS: JSON overriding lines of the default schedule,
 * {"standard": {"USD": {"perTransactionMinor": "50000", "dailyMinor": "100000", "monthlyMinor": "500000"}}}.
 */
export function parseLimitSchedule(json: string | undefined): LimitSchedule {
  if (json === undefined || json.trim() === "") return defaultLimitSchedule;
  const overrides = z
    .partialRecord(z.enum(tiers), z.partialRecord(z.enum(currencies as [Currency, ...Currency[]]), lineSchema))
    .parse(JSON.parse(json));
  const schedule = structuredClone(defaultLimitSchedule) as Record<Tier, Record<Currency, CurrencyLimitLine>>;
  for (const tier of tiers) {
    for (const [currency, given] of Object.entries(overrides[tier] ?? {})) {
      if (!given) continue;
      schedule[tier][currency as Currency] = limit(BigInt(given.perTransactionMinor), BigInt(given.dailyMinor), BigInt(given.monthlyMinor));
    }
  }
  return schedule;
}
