// Money as payments computes it: an integer count of minor units in a bigint,
// never a float (DESIGN.md §2). Amounts cross the wire as decimal strings and
// are stored as NUMERIC(78,0), so parsing and formatting live here, once.
import { create } from "@bufbuild/protobuf";
import { type Money, MoneySchema } from "@trustmesh/api/trustmesh/type/v1/money_pb.js";
import { invalidArgument } from "@trustmesh/runtime";

/** Supported currencies and their number of decimals. */
export const currencyScales = { USD: 2, EUR: 2, USDC: 6, EURC: 6, BTC: 8, ETH: 18 } as const;
export type Currency = keyof typeof currencyScales;
export const currencies = Object.keys(currencyScales) as Currency[];

export function isCurrency(value: string): value is Currency {
  return Object.hasOwn(currencyScales, value);
}

/**
 * The amount of a Money field as a bigint, checked again here although
 * protovalidate checked its shape, because domain code must not trust that a
 * caller ran the validator.
 */
export function amountOf(money: Money | undefined, field: string): { currency: Currency; amountMinor: bigint } {
  if (!money) throw invalidArgument(field, "is required");
  if (!isCurrency(money.currency)) throw invalidArgument(`${field}.currency`, `must be one of ${currencies.join(", ")}`);
  if (!/^(0|[1-9][0-9]{0,77})$/.test(money.amountMinor)) {
    throw invalidArgument(`${field}.amount_minor`, "must be a non-negative integer of at most 78 digits");
  }
  return { currency: money.currency, amountMinor: BigInt(money.amountMinor) };
}

export function money(currency: string, amountMinor: bigint): Money {
  return create(MoneySchema, { currency, amountMinor: amountMinor.toString() });
}

/** The amount in major units as a float, for metrics only; never for arithmetic. */
export function majorUnitsForMetrics(currency: Currency, amountMinor: bigint): number {
  return Number(amountMinor) / 10 ** currencyScales[currency];
}
