// Goal: sha256 (the digest through latin1 text) is byte for byte SHA-256 of
// its input, for text in UTF-8 and for bytes, whatever bytes the digest holds.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { sha256 } from "../src/domain/sha256.ts";

describe("sha256", () => {
  it("equals createHash's digest for strings and buffers", () => {
    const inputs: (string | Buffer)[] = ["", "abc", "∑ é \ud83d\ude00", Buffer.alloc(0), Buffer.alloc(1432, 0xff)];
    for (let index = 0; index < 200; index++) inputs.push(randomBytes(index * 7), randomBytes(index * 3).toString("latin1"));
    for (const input of inputs) {
      const digest = sha256(input);
      assert.equal(digest.length, 32);
      assert.deepEqual(digest, createHash("sha256").update(input).digest());
    }
  });
});
