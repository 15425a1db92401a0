// The fee schedule: one line per priority and currency, each a rate plus a
// fixed part, raised to a minimum and capped at a maximum (issue #5). The fee
// is charged on top of the amount and rounded up to a whole minor unit, so the
// platform never undercharges by a rounding.
import { z } from "zod";
import { type Currency, currencies } from "./money.ts";

export const priorities = ["standard", "express", "instant"] as const;
export type PriorityName = (typeof priorities)[number];

export interface FeeRuleLine {
  /** Hundredths of a percent: 150 is 1.5 %. */
  rateBasisPoints: number;
  fixedMinor: bigint;
  minimumMinor: bigint;
  /** Undefined means no cap. */
  maximumMinor?: bigint;
}

export type FeeSchedule = Readonly<Record<PriorityName, Readonly<Record<Currency, FeeRuleLine>>>>;

export interface Fee {
  feeMinor: bigint;
  rule: FeeRuleLine;
}

/**
 * The fee for an amount under one schedule line:
 * ceil(amount * rate / 10000) + fixed, then at least minimum, at most maximum.
 */
export function computeFee(line: FeeRuleLine, amountMinor: bigint): bigint {
  if (amountMinor <= 0n) throw new RangeError("a fee is computed for a positive amount");
  const proportional = (amountMinor * BigInt(line.rateBasisPoints) + 9_999n) / 10_000n;
  let fee = proportional + line.fixedMinor;
  if (fee < line.minimumMinor) fee = line.minimumMinor;
  if (line.maximumMinor !== undefined && fee > line.maximumMinor) fee = line.maximumMinor;
  return fee;
}

export function feeFor(schedule: FeeSchedule, priority: PriorityName, currency: Currency, amountMinor: bigint): Fee {
  const rule = schedule[priority][currency];
  return { feeMinor: computeFee(rule, amountMinor), rule };
}

const line = (rateBasisPoints: number, fixed: bigint, minimum: bigint, maximum?: bigint): FeeRuleLine => ({
  rateBasisPoints,
  fixedMinor: fixed,
  minimumMinor: minimum,
  ...(maximum === undefined ? {} : { maximumMinor: maximum }),
});

/**
 * The default schedule. Standard is free up to a small rate, express and instant
 * pay for speed. Crypto lines are in their own minor units (satoshi, wei, micro
 * dollars) and sized like the fiat ones at ordinary prices.
 */
export const defaultFeeSchedule: FeeSchedule = {
  standard: {
    USD: line(0, 0n, 0n),
    EUR: line(0, 0n, 0n),
    USDC: line(10, 0n, 0n, 5_000_000n),
    EURC: line(10, 0n, 0n, 5_000_000n),
    BTC: line(10, 0n, 500n, 100_000n),
    ETH: line(10, 0n, 10n ** 13n, 2n * 10n ** 15n),
  },
  express: {
    USD: line(100, 25n, 50n, 2_500n),
    EUR: line(100, 25n, 50n, 2_500n),
    USDC: line(100, 250_000n, 500_000n, 25_000_000n),
    EURC: line(100, 250_000n, 500_000n, 25_000_000n),
    BTC: line(100, 1_000n, 2_000n, 500_000n),
    ETH: line(100, 10n ** 14n, 2n * 10n ** 14n, 10n ** 16n),
  },
  instant: {
    USD: line(150, 50n, 100n, 5_000n),
    EUR: line(150, 50n, 100n, 5_000n),
    USDC: line(150, 500_000n, 1_000_000n, 50_000_000n),
    EURC: line(150, 500_000n, 1_000_000n, 50_000_000n),
    BTC: line(150, 2_000n, 5_000n, 1_000_000n),
    ETH: line(150, 2n * 10n ** 14n, 5n * 10n ** 14n, 2n * 10n ** 16n),
  },
};

/** Typical time from acceptance to completion, per priority, for quotes. */
export const estimatedCompletionSeconds: Readonly<Record<PriorityName, number>> = {
  standard: 86_400,
  express: 3_600,
  instant: 10,
};

const minorText = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, "an amount is a decimal string of minor units");
const lineSchema = z.object({
  rateBasisPoints: z.number().int().min(0).max(10_000),
  fixedMinor: minorText,
  minimumMinor: minorText,
  maximumMinor: minorText.optional(),
});

/**
 * Reads PAYMENTS_FEE_SCHEDULE: JSON overriding lines of the default schedule,
 * {"express": {"USD": {"rateBasisPoints": 90, "fixedMinor": "30", "minimumMinor": "50", "maximumMinor": "2000"}}}.
 * Lines not named keep their defaults.
 */
export function parseFeeSchedule(json: string | undefined): FeeSchedule {
  if (json === undefined || json.trim() === "") return defaultFeeSchedule;
  const overrides = z
    .partialRecord(z.enum(priorities), z.partialRecord(z.enum(currencies as [Currency, ...Currency[]]), lineSchema))
    .parse(JSON.parse(json));
  const schedule = structuredClone(defaultFeeSchedule) as Record<PriorityName, Record<Currency, FeeRuleLine>>;
  for (const priority of priorities) {
    for (const [currency, given] of Object.entries(overrides[priority] ?? {})) {
      if (!given) continue;
      const parsed = line(
        given.rateBasisPoints,
        BigInt(given.fixedMinor),
        BigInt(given.minimumMinor),
        given.maximumMinor === undefined ? undefined : BigInt(given.maximumMinor),
      );
      if (parsed.maximumMinor !== undefined && parsed.maximumMinor < parsed.minimumMinor) {
        throw new Error(`PAYMENTS_FEE_SCHEDULE ${priority}.${currency}: maximumMinor is below minimumMinor`);
      }
      schedule[priority][currency as Currency] = parsed;
    }
  }
  return schedule;
}
