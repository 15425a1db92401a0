// What every service's idempotency keys (DESIGN.md §2) are checked by: a key
// is scoped to its caller, so two callers' keys never meet, and a replay is
// told from a different request by the hash of the request itself.
import { createHash } from "node:crypto";
import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { Principal } from "./context.ts";

/** The caller an idempotency key belongs to: "user:<id>" or "service:<name>". */
export function idempotencyScopeOf(principal: Principal): string {
  return principal.kind === "service" ? `service:${principal.serviceName}` : `user:${principal.userId}`;
}

/** SHA-256 of a request's binary form, which protobuf-es writes deterministically: equal requests, equal hashes. */
export function requestHashOf<Desc extends DescMessage>(schema: Desc, request: MessageShape<Desc>): Uint8Array {
  return createHash("sha256").update(toBinary(schema, request)).digest();
}
