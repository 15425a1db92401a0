// Verification and reset codes: random digits, stored as HMAC-SHA256 under a
// key derived from the active key-encryption key. A plain hash of a six-digit
// code is reversed by trying a million values; without the key (which is in
// config, not in the database) a stolen table reveals nothing. Rotating the
// key-encryption key voids codes in flight, which live minutes at most.
import { createHmac, hkdfSync, randomInt, timingSafeEqual } from "node:crypto";

export interface CodeHasher {
  generate(): string;
  hash(flow: string, contact: string, code: string): Buffer;
  matches(stored: Uint8Array, flow: string, contact: string, code: string): boolean;
}

export function createCodeHasher(keyEncryptionKey: Buffer, length: number): CodeHasher {
  const key = Buffer.from(hkdfSync("sha256", keyEncryptionKey, Buffer.alloc(0), "trustmesh-auth verification codes", 32));
  const hash = (flow: string, contact: string, code: string) => createHmac("sha256", key).update(`${flow}\n${contact}\n${code}`).digest();
  return {
    generate: () => String(randomInt(0, 10 ** length)).padStart(length, "0"),
    hash,
    matches(stored, flow, contact, code) {
      const expected = hash(flow, contact, code);
      return stored.length === expected.length && timingSafeEqual(Buffer.from(stored), expected);
    },
  };
}
