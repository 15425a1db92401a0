// Goal: both status-list encodings are the standards' bit for bit, read back by
// decoders that are not ours: a Bitstring Status List puts index 0 in the most
// significant bit of the first byte and is GZIP + multibase base64url (Node's
// own gunzip reads it); a Token Status List packs two bits per entry least
// significant first under zlib, which the reference @sd-jwt/jwt-status-list reads.
import assert from "node:assert/strict";
import { gunzipSync, inflateSync } from "node:zlib";
import { StatusList } from "@sd-jwt/jwt-status-list";
import { bitAt, bitstringOf, decodeBitstring, encodeBitstring, tokenStatus, tokenStatusListOf } from "../src/status-list-encoding.ts";

const size = 131_072;
const entries = [
  { index: 0, state: "REVOKED" as const },
  { index: 9, state: "SUSPENDED" as const },
  { index: 131_071, state: "REVOKED" as const },
];

describe("status-list encodings", () => {
  it("sets Bitstring bits most significant first, one list per purpose", () => {
    const revocation = bitstringOf(size, entries, "revocation");
    assert.equal(revocation.length, 16_384, "16 KiB: the Bitstring Status List minimum");
    assert.equal(revocation[0], 0x80);
    assert.equal(revocation[16_383], 0x01);
    assert.ok(!bitAt(revocation, 9));
    const suspension = bitstringOf(size, entries, "suspension");
    // Index 9 is byte 1, second bit from the left.
    assert.equal(suspension[1], 0x40);
    assert.ok(bitAt(suspension, 9) && !bitAt(suspension, 0));
  });

  it("writes encodedList as u + base64url(gzip), which plain gunzip reads back", () => {
    const bits = bitstringOf(size, entries, "revocation");
    const encoded = encodeBitstring(bits);
    assert.match(encoded, /^u[A-Za-z0-9_-]+$/);
    assert.deepEqual(new Uint8Array(gunzipSync(Buffer.from(encoded.slice(1), "base64url"))), bits);
    assert.deepEqual(new Uint8Array(decodeBitstring(encoded)), bits);
    // Mostly zeros: a whole list compresses to a few hundred bytes.
    assert.ok(encoded.length < 400, `${encoded.length} characters`);
  });

  it("writes Token Status List entries that the reference implementation and plain inflate read back", () => {
    const lst = tokenStatusListOf(size, entries).compressStatusList();
    const decoded = StatusList.decompressStatusList(lst, 2);
    assert.equal(decoded.getStatus(0), tokenStatus.invalid);
    assert.equal(decoded.getStatus(9), tokenStatus.suspended);
    assert.equal(decoded.getStatus(131_071), tokenStatus.invalid);
    assert.equal(decoded.getStatus(5), tokenStatus.valid);
    // Two bits per entry, least significant first: index 0 is the low bits of byte 0, index 9 bits 2-3 of byte 2.
    const bytes = inflateSync(Buffer.from(lst, "base64url"));
    assert.equal(bytes.length, size / 4);
    assert.equal(bytes[0], 0b01);
    assert.equal(bytes[2], 0b10 << 2);
  });

  it("refuses an index outside the list", () => {
    assert.throws(() => bitstringOf(8, [{ index: 8, state: "REVOKED" }], "revocation"), RangeError);
    assert.throws(() => tokenStatusListOf(8, [{ index: -1, state: "REVOKED" }]), RangeError);
  });
});
