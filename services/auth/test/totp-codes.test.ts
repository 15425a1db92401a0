// Goal: TOTP codes are RFC 6238's: the RFC's SHA-1 test vectors (their last
// six digits, which is what a 6-digit code is) match at the RFC's times and
// name the right time step, one step either side is accepted, two are not.
import assert from "node:assert/strict";
import { matchTotpCode, totpStep } from "../src/mfa/totp.ts";

// RFC 6238 Appendix B: the SHA-1 seed and (time, 8-digit TOTP) pairs.
const seed = Buffer.from("12345678901234567890", "ascii");
const vectors: [timeSeconds: number, code: string][] = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

describe("TOTP codes", () => {
  for (const [timeSeconds, code] of vectors) {
    it(`matches RFC 6238's code at T=${timeSeconds}`, () => {
      assert.equal(matchTotpCode(seed, code.slice(-6), timeSeconds * 1000), totpStep(timeSeconds * 1000));
    });
  }

  it("accepts a code one step early or late, with the step it belongs to, and refuses two steps", () => {
    const code = "287082"; // step 1 (T = 30..59 s)
    assert.equal(matchTotpCode(seed, code, 0), 1, "one step before");
    assert.equal(matchTotpCode(seed, code, 89_999), 1, "one step after");
    assert.equal(matchTotpCode(seed, code, 90_000), null, "two steps after");
  });

  it("refuses codes of the wrong length or a wrong digit", () => {
    assert.equal(matchTotpCode(seed, "94287082", 59_000), null, "8 digits against a 6-digit secret");
    assert.equal(matchTotpCode(seed, "287083", 59_000), null);
    assert.equal(matchTotpCode(seed, "", 59_000), null);
  });
});
