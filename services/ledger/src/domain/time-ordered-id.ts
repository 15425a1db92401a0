// Transaction and entry ids are UUIDv7 (RFC 9562): the first 48 bits are the
// Unix time in milliseconds, the rest random. Ids made close in time sort close
// together, so the B-tree indexes that lead with them (ledger_transaction's
// primary key, ledger_entry's) grow at their right edge, where PostgreSQL
// inserts without a descent, instead of touching a random leaf per row as
// UUIDv4 does. Ordering within one millisecond is random, which is all the
// indexes need; no id is ever compared for order by the ledger.
import { randomUUID } from "node:crypto";

// A batch makes thousands of ids within one millisecond: the time's hex
// prefix is spelled once per millisecond, not once per id.
let prefixMs = Number.NaN;
let prefix = "";

/** A UUIDv7: randomUUID's random bits and variant, with the time in front and version 7. */
export function timeOrderedUuid(now: number = Date.now()): string {
  if (now !== prefixMs) {
    const time = now.toString(16).padStart(12, "0");
    prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`;
    prefixMs = now;
  }
  // randomUUID(): xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx; its version digit is replaced.
  return prefix + randomUUID().slice(15);
}
