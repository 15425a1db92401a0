// Opaque cursors for the newest-first lists: the (created_at, id) of the last
// record of a page, plus a fingerprint of the query it belongs to, so a token
// from one list (another user, event or filter) is refused rather than
// silently positioning a different list. Tokens are parsed before they are
// trusted: anything malformed is INVALID_ARGUMENT naming page_token.
import { createHash } from "node:crypto";
import { invalidArgument } from "@trustmesh/runtime";

export interface PagePosition {
  createdAt: Date;
  id: string;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const fingerprintLength = 16;

function fingerprintOf(query: string): string {
  return createHash("sha256").update(query).digest("base64url").slice(0, fingerprintLength);
}

/** `query` names the list and its filters, e.g. "history:<user id>". */
export function encodePageToken(query: string, position: PagePosition): string {
  const body = { q: fingerprintOf(query), t: position.createdAt.getTime(), i: position.id };
  return Buffer.from(JSON.stringify(body), "utf8").toString("base64url");
}

/** The position after which the page starts; undefined for the first page (empty token). */
export function decodePageToken(query: string, token: string): PagePosition | undefined {
  if (token === "") return undefined;
  const refuse = (why: string) =>
    invalidArgument("page_token", `${why}; pass the next_page_token of the same list, or nothing for the first page`);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw refuse("is not a page token");
  }
  const { q, t, i } = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (
    typeof q !== "string" ||
    typeof t !== "number" ||
    !Number.isSafeInteger(t) ||
    t < 0 ||
    typeof i !== "string" ||
    !uuidPattern.test(i)
  ) {
    throw refuse("is not a page token");
  }
  if (q !== fingerprintOf(query)) throw refuse("belongs to another list");
  return { createdAt: new Date(t), id: i };
}
