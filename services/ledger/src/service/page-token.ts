// Opaque cursors for list RPCs: the position after the last item returned and a
// fingerprint of the filters, so a token cannot be replayed with other filters
// (which would skip or repeat items). Not secret: every page is filtered by the
// caller's rights again, so a hand-made token reveals nothing more.
import { invalidArgument } from "@trustmesh/runtime";
import type { CanonicalValue } from "../domain/canonical-json.ts";
import { requestHash } from "./requests.ts";

function fingerprint(filter: CanonicalValue): string {
  return requestHash(filter).subarray(0, 12).toString("base64url");
}

export function encodePageToken(filter: CanonicalValue, position: Record<string, string>): string {
  return Buffer.from(JSON.stringify({ f: fingerprint(filter), p: position }), "utf8").toString("base64url");
}

/** The position in a token, undefined for an empty token; INVALID_ARGUMENT for a malformed or mismatched one. */
export function decodePageToken(token: string, filter: CanonicalValue, keys: readonly string[]): Record<string, string> | undefined {
  if (token === "") return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidArgument("page_token", "is not a token this RPC returned");
  }
  const { f, p } = (decoded ?? {}) as { f?: unknown; p?: Record<string, unknown> };
  if (typeof p !== "object" || p === null || !keys.every((key) => typeof p[key] === "string")) {
    throw invalidArgument("page_token", "is not a token this RPC returned");
  }
  if (f !== fingerprint(filter))
    throw invalidArgument("page_token", "was issued for other filters; keep the filters unchanged while paging");
  return p as Record<string, string>;
}

/** A requested page size within its bounds; 0 means the default. */
export function pageSizeOf(requested: number, defaultSize: number, maxSize: number): number {
  if (requested <= 0) return defaultSize;
  return Math.min(requested, maxSize);
}
