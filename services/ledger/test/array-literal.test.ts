// Goal: the batch writer's hand-built PostgreSQL array literals (its enum
// arrays) carry exactly the values given, and anything that would need
// quoting is refused instead of being sent unquoted (where it could change
// the array's meaning).
import assert from "node:assert/strict";
import { plainArrayLiteral } from "../src/store/write-plan.ts";

describe("plainArrayLiteral", () => {
  it("writes UUIDs, integers, enum names and ISO times as they are, and null as NULL", () => {
    assert.equal(
      plainArrayLiteral(["0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4b", "-12", "POST_PENDING", "2026-11-23T06:31:36.123Z", null]),
      "{0b7c6a9e-3f1d-4c55-9a41-0f6f3c1d2e4b,-12,POST_PENDING,2026-11-23T06:31:36.123Z,NULL}",
    );
    assert.equal(plainArrayLiteral([]), "{}");
  });

  it("refuses values that would need quoting", () => {
    for (const value of ["a,b", 'say "hi"', "back\\slash", "{x}", "two words", "", "NULL", "null"]) {
      assert.throws(() => plainArrayLiteral([value]), /cannot go unquoted/, value);
    }
  });
});
