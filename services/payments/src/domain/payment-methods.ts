// Checks on the instruments users add (issue #5): IBAN mod-97 and country
// rules (ibantools), the ABA routing-number checksum, card numbers' Luhn digit
// and brand (card-validator), Bitcoin addresses' bech32/bech32m or base58check
// checksum on mainnet (bitcoin-address-validation) and Ethereum addresses'
// EIP-55 checksum (@ethereumjs/util). Each failure names the request field.
import { isValidChecksumAddress, toChecksumAddress } from "@ethereumjs/util";
import { invalidArgument } from "@trustmesh/runtime";
import { AddressType, getAddressInfo, Network } from "bitcoin-address-validation";
import cardValidator from "card-validator";
import { extractIBAN, isValidIBAN } from "ibantools";
import type { Currency } from "./money.ts";

export type CardBrandName = "VISA" | "MASTERCARD" | "AMERICAN_EXPRESS" | "DISCOVER" | "JCB" | "DINERS_CLUB" | "UNIONPAY";

const brandsByValidatorType: Readonly<Record<string, CardBrandName>> = {
  visa: "VISA",
  mastercard: "MASTERCARD",
  "american-express": "AMERICAN_EXPRESS",
  discover: "DISCOVER",
  jcb: "JCB",
  "diners-club": "DINERS_CLUB",
  unionpay: "UNIONPAY",
};

export function checkIban(iban: string, field: string): { iban: string; country: string; last4: string } {
  if (!isValidIBAN(iban))
    throw invalidArgument(field, "is not a valid IBAN (its check digits or length for the country are wrong)", "IBAN_INVALID");
  const parts = extractIBAN(iban);
  return { iban, country: parts.countryCode ?? iban.slice(0, 2), last4: iban.slice(-4) };
}

/**
 * The ABA routing number checksum: digits weighted 3, 7, 1 repeating sum to a
 * multiple of ten. Three lines, so written here rather than pulled in as a
 * dependency (the npm packages for it are tiny and little used); tested
 * against published routing numbers.
 */
export function isValidRoutingNumber(routingNumber: string): boolean {
  if (!/^[0-9]{9}$/.test(routingNumber)) return false;
  const weights = [3, 7, 1, 3, 7, 1, 3, 7, 1];
  const sum = [...routingNumber].reduce((total, digit, index) => total + Number(digit) * (weights[index] ?? 0), 0);
  return sum % 10 === 0 && routingNumber !== "000000000";
}

export function checkRoutingNumber(routingNumber: string, field: string): void {
  if (!isValidRoutingNumber(routingNumber))
    throw invalidArgument(field, "is not a valid ABA routing number (its checksum is wrong)", "ROUTING_NUMBER_INVALID");
}

/** Brand and last four of a card number, after its Luhn digit and brand check. The number is never echoed. */
export function checkCardNumber(number: string, field: string): { brand: CardBrandName; last4: string } {
  const verdict = cardValidator.number(number, { maxLength: 19 });
  if (!verdict.isValid)
    throw invalidArgument(field, "is not a valid card number (its check digit or length is wrong)", "CARD_NUMBER_INVALID");
  const brand = verdict.card ? brandsByValidatorType[verdict.card.type] : undefined;
  if (!brand) throw invalidArgument(field, "belongs to a card network that is not accepted", "CARD_BRAND_UNSUPPORTED");
  return { brand, last4: number.slice(-4) };
}

/** A card is usable through the end of its expiry month. */
export function checkCardExpiry(month: number, year: number, now: Date, field: string): void {
  const endOfExpiryMonth = Date.UTC(year, month, 1);
  if (endOfExpiryMonth <= now.getTime()) throw invalidArgument(field, "the card has expired", "CARD_EXPIRED");
}

/** A mainnet Bitcoin address in its canonical form (bech32 lower case). */
export function checkBitcoinAddress(address: string, field: string): string {
  let info: ReturnType<typeof getAddressInfo>;
  try {
    info = getAddressInfo(address);
  } catch {
    throw invalidArgument(field, "is not a valid Bitcoin address (its bech32 or base58check checksum is wrong)", "ADDRESS_INVALID");
  }
  if (info.network !== Network.mainnet) throw invalidArgument(field, "is not a Bitcoin mainnet address", "ADDRESS_WRONG_NETWORK");
  return info.bech32 || info.type === AddressType.p2tr ? address.toLowerCase() : address;
}

/**
 * An Ethereum address must carry its EIP-55 checksum (mixed case): an
 * all-lower-case address has none, so one mistyped character would send money
 * to nobody. Returned unchanged, which is its canonical form.
 */
export function checkEthereumAddress(address: string, field: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw invalidArgument(field, "must be 0x followed by 40 hex digits", "ADDRESS_INVALID");
  const hex = address.slice(2);
  if (hex === hex.toLowerCase() || hex === hex.toUpperCase()) {
    throw invalidArgument(
      field,
      `must carry its EIP-55 checksum (mixed case), such as ${toChecksumAddress(address)}`,
      "ADDRESS_CHECKSUM_MISSING",
    );
  }
  if (!isValidChecksumAddress(address))
    throw invalidArgument(field, "has a wrong EIP-55 checksum (a character is mistyped)", "ADDRESS_CHECKSUM_INVALID");
  return address;
}

/** Currencies each kind of instrument carries (payments.proto, PaymentMethod.currencies). */
export const methodCurrencies = {
  iban: ["EUR"],
  usAccount: ["USD"],
  card: ["USD", "EUR"],
  bitcoin: ["BTC"],
  ethereum: ["ETH", "USDC", "EURC"],
} as const satisfies Record<string, readonly Currency[]>;
