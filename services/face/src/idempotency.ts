// Idempotency keys (DESIGN.md §2): a replay with the same key and the same
// request returns the first response; the same key with another request is
// ALREADY_EXISTS. Keys are scoped per caller, so two callers never collide.
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { alreadyExists, idempotencyScopeOf, type Principal } from "@trustmesh/runtime";
import type { StoredIdempotency } from "./store.ts";

/** How long a key answers replays; retries come within minutes, a day is generous. */
export const idempotencyRetentionMs = 24 * 60 * 60_000;

export function scopeOf(principal: Principal | undefined): string {
  // Every face RPC requires a principal; the authorization interceptor ran first.
  if (principal === undefined) throw new Error("an idempotent face RPC ran without a principal");
  return idempotencyScopeOf(principal);
}

/** The stored response for a replay; ALREADY_EXISTS when the key was used for something else. */
export function replayOf<S extends DescMessage>(
  record: StoredIdempotency,
  method: string,
  requestHash: Uint8Array,
  schema: S,
): MessageShape<S> {
  if (record.method !== method || !Buffer.from(record.requestHash).equals(Buffer.from(requestHash))) {
    throw alreadyExists("idempotency_key: already used for a different request; use a new key for a new request", "IDEMPOTENCY_KEY_REUSED");
  }
  return fromBinary(schema, record.response);
}
