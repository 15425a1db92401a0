// Currencies, their scales and integer amounts of minor units. Amounts are
// bigint everywhere in code and NUMERIC(78,0) in the database; they cross every
// boundary (proto, SQL, hash) as decimal strings, so no float ever touches them.

/** Decimal places of each supported currency (DESIGN.md §2). */
export const currencyScales = { USD: 2, EUR: 2, USDC: 6, EURC: 6, BTC: 8, ETH: 18 } as const;

export type Currency = keyof typeof currencyScales;

export const supportedCurrencies = Object.keys(currencyScales) as Currency[];

/** The largest value NUMERIC(78,0) holds, so the largest amount or running total. */
export const amountMinorMax = 10n ** 78n - 1n;

const unsignedPattern = /^(0|[1-9][0-9]{0,77})$/;
const signedPattern = /^(0|-?[1-9][0-9]{0,77})$/;

export function isCurrency(value: string): value is Currency {
  return Object.hasOwn(currencyScales, value);
}

/** Parses a non-negative amount string of minor units; undefined when malformed. */
export function parseAmountMinor(text: string): bigint | undefined {
  return unsignedPattern.test(text) ? BigInt(text) : undefined;
}

/**
 * Parses an integer that came from our own database (NUMERIC as text). A value
 * that is not an integer means the column type changed under us, so it throws
 * rather than rounding.
 */
export function minorFromDatabase(text: string): bigint {
  if (!signedPattern.test(text)) throw new Error(`ledger: ${JSON.stringify(text)} is not an integer amount of minor units`);
  return BigInt(text);
}
