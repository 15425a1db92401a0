// The two status-list encodings, as pure functions.
//
// W3C Bitstring Status List 1.0: one bit per credential, index 0 the left-most
// (most significant) bit of the first byte, GZIP-compressed, then multibase
// base64url without padding ("u" prefix). One list per purpose (revocation,
// suspension); a set bit means the purpose applies.
//
// IETF Token Status List: two bits per credential here (0 valid, 1 invalid,
// 2 suspended), packed least-significant first and DEFLATE (zlib) compressed,
// base64url — done by @sd-jwt/jwt-status-list, the reference implementation.
import { gunzipSync, gzipSync } from "node:zlib";
import { StatusList } from "@sd-jwt/jwt-status-list";
import type { CredentialState } from "./generated/prisma/enums.ts";

/** A credential's entry that is not active, as read from the database. */
export interface StatusEntry {
  index: number;
  state: CredentialState;
}

export type BitstringPurpose = "revocation" | "suspension";
export const bitstringPurposes: readonly BitstringPurpose[] = ["revocation", "suspension"];

/** Token Status List values (draft-ietf-oauth-status-list §7.1). */
export const tokenStatus = { valid: 0, invalid: 1, suspended: 2 } as const;
export const tokenStatusBits = 2;

/** The state a purpose's bit stands for. */
const purposeState: Readonly<Record<BitstringPurpose, CredentialState>> = { revocation: "REVOKED", suspension: "SUSPENDED" };

/** The uncompressed bitstring of one purpose, `size` bits long. */
export function bitstringOf(size: number, entries: readonly StatusEntry[], purpose: BitstringPurpose): Uint8Array {
  const bits = new Uint8Array(Math.ceil(size / 8));
  for (const entry of entries) {
    if (entry.state !== purposeState[purpose]) continue;
    assertIndex(entry.index, size);
    bits[entry.index >> 3] = (bits[entry.index >> 3] as number) | (0x80 >> (entry.index & 7));
  }
  return bits;
}

export function bitAt(bits: Uint8Array, index: number): boolean {
  assertIndex(index, bits.length * 8);
  return ((bits[index >> 3] as number) & (0x80 >> (index & 7))) !== 0;
}

/** encodedList: "u" + base64url(gzip(bitstring)). */
export function encodeBitstring(bits: Uint8Array): string {
  return `u${gzipSync(bits).toString("base64url")}`;
}

export function decodeBitstring(encodedList: string): Uint8Array {
  if (!encodedList.startsWith("u")) throw new Error("encodedList must be multibase base64url (u...)");
  return gunzipSync(Buffer.from(encodedList.slice(1), "base64url"));
}

/** The Token Status List of `size` entries. */
export function tokenStatusListOf(size: number, entries: readonly StatusEntry[]): StatusList {
  const statuses = new Array<number>(size).fill(tokenStatus.valid);
  for (const entry of entries) {
    assertIndex(entry.index, size);
    if (entry.state === "REVOKED") statuses[entry.index] = tokenStatus.invalid;
    else if (entry.state === "SUSPENDED") statuses[entry.index] = tokenStatus.suspended;
  }
  return new StatusList(statuses, tokenStatusBits);
}

function assertIndex(index: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) throw new RangeError(`status index ${index} is outside a list of ${size}`);
}
