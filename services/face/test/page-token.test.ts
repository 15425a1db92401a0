// Goal: page tokens round-trip the position of the last record, belong to one
// list only, and anything malformed is INVALID_ARGUMENT naming page_token.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import type { DomainError } from "@trustmesh/runtime";
import { decodePageToken, encodePageToken } from "../src/page-token.ts";

const position = { createdAt: new Date("2026-11-20T10:11:12.345Z"), id: "3f0c7e0e-9a9b-4c41-8c5e-0d6c1b7a2f10" };

function refusedAsPageToken(pattern: RegExp) {
  return (error: DomainError) => {
    assert.equal(error.code, Code.InvalidArgument);
    assert.deepEqual(
      error.violations.map((violation) => violation.field),
      ["page_token"],
    );
    assert.match(error.message, pattern);
    return true;
  };
}

describe("page tokens", () => {
  it("round-trip a position to the millisecond, and an empty token means the first page", () => {
    const token = encodePageToken("history:user-1", position);
    assert.deepEqual(decodePageToken("history:user-1", token), position);
    assert.equal(decodePageToken("history:user-1", ""), undefined);
  });

  it("refuse a token of another list", () => {
    const token = encodePageToken("history:user-1", position);
    assert.throws(() => decodePageToken("history:user-2", token), refusedAsPageToken(/belongs to another list/));
  });

  it("refuse tokens that are not ours", () => {
    const forged = (body: unknown) => Buffer.from(JSON.stringify(body)).toString("base64url");
    const fingerprintOf = (token: string) => JSON.parse(Buffer.from(token, "base64url").toString()).q;
    const q = fingerprintOf(encodePageToken("l", position));
    for (const token of [
      "not base64 !",
      "e30",
      forged([1, 2]),
      forged({ q, t: "yesterday", i: position.id }),
      forged({ q, t: -5, i: position.id }),
      forged({ q, t: 1, i: "'; DROP TABLE face_validation; --" }),
    ]) {
      assert.throws(() => decodePageToken("l", token), refusedAsPageToken(/not a page token/), token);
    }
  });
});
