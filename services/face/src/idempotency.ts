// Idempotency keys (DESIGN.md §2): a replay with the same key and the same
// request returns the first response; the same key with another request is
// ALREADY_EXISTS. Keys are scoped per caller, so two callers never collide.
import { createHash } from "node:crypto";
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { alreadyExists, type Principal } from "@trustmesh/runtime";
import type { StoredIdempotency } from "./store.ts";

/** How long a key answers replays; retries come within minutes, a day is generous. */
export const idempotencyRetentionMs = 24 * 60 * 60_000;

export function scopeOf(principal: Principal | undefined): string {
  if (principal?.kind === "service") return `service:${principal.serviceName}`;
  if (principal?.kind === "user") return `user:${principal.userId}`;
  // Every face RPC requires a principal; the authorization interceptor ran first.
  throw new Error("an idempotent face RPC ran without a principal");
}

export function requestHashOf<S extends DescMessage>(schema: S, request: MessageShape<S>): Uint8Array {
  return createHash("sha256").update(toBinary(schema, request)).digest();
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
