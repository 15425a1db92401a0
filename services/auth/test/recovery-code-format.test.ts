// Goal: recovery codes have 60 random bits in a format people can copy (three
// groups of four Crockford base32 characters), and input is normalised the
// way the contract promises: dashes and case ignored, o read as 0 and i, l as
// 1; anything else that cannot be a code is refused before any lookup.
import assert from "node:assert/strict";
import { generateRecoveryCodes, normalizeRecoveryCode, recoveryCodeCount } from "../src/mfa/recovery-codes.ts";

describe("recovery code format", () => {
  it("generates ten distinct codes of three groups of four Crockford base32 characters", () => {
    const codes = generateRecoveryCodes();
    assert.equal(codes.length, recoveryCodeCount);
    assert.equal(new Set(codes).size, codes.length);
    for (const code of codes) assert.match(code, /^[0-9abcdefghjkmnpqrstvwxyz]{4}(-[0-9abcdefghjkmnpqrstvwxyz]{4}){2}$/);
  });

  it("uses every character of the alphabet, so each carries five bits", () => {
    const seen = new Set(generateRecoveryCodes(400).join("").replaceAll("-", ""));
    assert.equal(seen.size, 32);
  });

  it("normalises case, dashes and look-alike letters", () => {
    assert.equal(normalizeRecoveryCode("7K2M-Q9XD-4HBV"), "7k2mq9xd4hbv");
    assert.equal(normalizeRecoveryCode("7k2mq9xd4hbv"), "7k2mq9xd4hbv");
    assert.equal(normalizeRecoveryCode("ab-cd-ef-gh-jk-mn"), "abcdefghjkmn");
    assert.equal(normalizeRecoveryCode("O0Il-aaaa-bbbb"), "0011aaaabbbb");
  });

  it("refuses input that cannot be a code", () => {
    assert.equal(normalizeRecoveryCode("7k2m-q9xd-4hb"), null, "too short");
    assert.equal(normalizeRecoveryCode("7k2m-q9xd-4hbvv"), null, "too long");
    assert.equal(normalizeRecoveryCode("7k2m-q9xd-4hbu"), null, "u is not in the alphabet");
    assert.equal(normalizeRecoveryCode("7k2m q9xd 4hbv"), null, "spaces are not dashes");
    assert.equal(normalizeRecoveryCode(""), null);
  });
});
