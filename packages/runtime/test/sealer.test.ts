// Goal: sealed secrets open only with the right key ring and context, survive
// key rotation, and any tampering is detected.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSealer, parseKeyRing } from "../src/crypto/sealer.ts";

const keyA = randomBytes(32).toString("base64");
const keyB = randomBytes(32).toString("base64");

describe("sealer", () => {
  it("round-trips and binds the context", () => {
    const sealer = createSealer(parseKeyRing(`a:${keyA}`), "a");
    const sealed = sealer.seal(Buffer.from("totp secret"), "user-1");
    assert.equal(sealer.open(sealed, "user-1").toString(), "totp secret");
    assert.throws(() => sealer.open(sealed, "user-2"));
    assert.ok(!sealed.includes(Buffer.from("totp secret")));
  });

  it("opens data sealed under a retired key after rotation, and seals with the new one", () => {
    const before = createSealer(parseKeyRing(`a:${keyA}`), "a");
    const old = before.seal(Buffer.from("old"));
    const after = createSealer(parseKeyRing(`a:${keyA},b:${keyB}`), "b");
    assert.equal(after.open(old).toString(), "old");
    const fresh = after.seal(Buffer.from("new"));
    assert.throws(() => before.open(fresh), /key "b"/);
  });

  it("detects a flipped bit", () => {
    const sealer = createSealer(parseKeyRing(`a:${keyA}`), "a");
    const sealed = sealer.seal(Buffer.from("payload"));
    const index = sealed.length - 20;
    sealed.writeUInt8((sealed.readUInt8(index) ^ 1) & 0xff, index);
    assert.throws(() => sealer.open(sealed));
  });

  it("refuses malformed key rings with a message naming the problem", () => {
    assert.throws(() => parseKeyRing("a:c2hvcnQ="), /32 bytes/);
    assert.throws(() => parseKeyRing(""), /empty/);
    assert.throws(() => parseKeyRing(`bad id:${keyA}`), /key id/);
  });
});
