// Answers kept for retries: SignUp and FinishPasskeyRegistration store their
// answer under the caller's idempotency key, so a retry after a lost answer
// gets the same one back, and the same key with another request is refused.
import { createHash } from "node:crypto";
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { alreadyExists } from "@trustmesh/runtime";
import type { AuthStore } from "../store.ts";

/** Records are kept a day: long enough for any client retry. */
const idempotencyTtlMs = 24 * 3600_000;

export interface IdempotentCall {
  /** Where the key is unique: a flow of anonymous callers, or one account. */
  scope: string;
  key: string;
  /** The full RPC name, so a key used for one method never answers another. */
  method: string;
  /** SHA-256 of what identifies the request; never of a secret in it. */
  requestHash: Buffer;
}

/** SHA-256 of the request's identifying parts, as JSON. */
export function requestHashOf(parts: readonly unknown[]): Buffer {
  return createHash("sha256").update(JSON.stringify(parts)).digest();
}

/**
 * The answer recorded for the call's key, or undefined when the key is new;
 * the key recorded for another method or request is ALREADY_EXISTS with
 * `reusedMessage`.
 */
export async function recordedAnswer<Schema extends DescMessage>(
  store: AuthStore,
  schema: Schema,
  call: IdempotentCall,
  reusedMessage: string,
): Promise<MessageShape<Schema> | undefined> {
  const previous = await store.findIdempotent(call.scope, call.key);
  if (!previous) return undefined;
  if (previous.method !== call.method || !Buffer.from(previous.requestHash).equals(call.requestHash)) {
    throw alreadyExists(reusedMessage, "IDEMPOTENCY_KEY_REUSED");
  }
  return fromBinary(schema, previous.response);
}

/** Keeps the answer for retries of the call. */
export async function recordAnswer<Schema extends DescMessage>(
  store: AuthStore,
  schema: Schema,
  call: IdempotentCall,
  answer: MessageShape<Schema>,
): Promise<void> {
  await store.saveIdempotent({
    ...call,
    response: Buffer.from(toBinary(schema, answer)),
    expiresAt: new Date(Date.now() + idempotencyTtlMs),
  });
}
