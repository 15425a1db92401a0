// Goal: ledger ids are valid RFC 9562 version-7 UUIDs whose order follows the
// millisecond they were made in, and are unique within one millisecond.
import assert from "node:assert/strict";
import { timeOrderedUuid } from "../src/domain/time-ordered-id.ts";

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("timeOrderedUuid", () => {
  it("is a version-7 UUID with the RFC variant carrying the time in its first 48 bits", () => {
    const now = Date.UTC(2026, 10, 23, 12, 0, 0, 123);
    const id = timeOrderedUuid(now);
    assert.match(id, uuidV7);
    assert.equal(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16), now);
    // The time prefix is remembered per millisecond: the next millisecond, and going back, spell their own.
    for (const other of [now + 1, now, now - 86_400_000]) {
      const next = timeOrderedUuid(other);
      assert.match(next, uuidV7);
      assert.equal(Number.parseInt(next.slice(0, 8) + next.slice(9, 13), 16), other);
    }
  });

  it("sorts by the millisecond it was made in and never repeats within one", () => {
    const earlier = timeOrderedUuid(1_700_000_000_000);
    const later = timeOrderedUuid(1_700_000_000_001);
    assert.ok(earlier < later);
    const sameMillisecond = new Set(Array.from({ length: 10_000 }, () => timeOrderedUuid(1_700_000_000_000)));
    assert.equal(sameMillisecond.size, 10_000);
  });
});
