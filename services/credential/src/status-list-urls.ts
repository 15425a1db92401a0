// Where status lists are published under the issuer's URL, and the way back
// from a URL in a credential to the list it names.
import type { BitstringPurpose } from "./status-list-encoding.ts";

/** The route paths (URLPattern syntax) the HTTP port serves lists at. */
export const statusListRoutes = {
  bitstring: "/status-lists/bitstring/:listId/:purpose",
  token: "/status-lists/token/:listId",
} as const;

export function bitstringListUrl(issuerUrl: string, listId: string, purpose: BitstringPurpose): string {
  return `${issuerUrl}/status-lists/bitstring/${listId}/${purpose}`;
}

export function tokenListUrl(issuerUrl: string, listId: string): string {
  return `${issuerUrl}/status-lists/token/${listId}`;
}

export type ParsedStatusListUrl = { kind: "bitstring"; listId: string; purpose: BitstringPurpose } | { kind: "token"; listId: string };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Compiled once: every verified credential's status reference is parsed here.
const bitstringPattern = new URLPattern({ pathname: statusListRoutes.bitstring });
const tokenPattern = new URLPattern({ pathname: statusListRoutes.token });

/** The list a URL names, when it is one of this issuer's; undefined for anything else. */
export function parseStatusListUrl(issuerUrl: string, url: string): ParsedStatusListUrl | undefined {
  if (!url.startsWith(`${issuerUrl}/`)) return undefined;
  const pathname = url.slice(issuerUrl.length);
  const bitstring = bitstringPattern.exec({ pathname });
  if (bitstring) {
    const { listId = "", purpose } = bitstring.pathname.groups;
    if (!uuidPattern.test(listId) || (purpose !== "revocation" && purpose !== "suspension")) return undefined;
    return { kind: "bitstring", listId, purpose };
  }
  const token = tokenPattern.exec({ pathname });
  const listId = token?.pathname.groups.listId ?? "";
  return token && uuidPattern.test(listId) ? { kind: "token", listId } : undefined;
}
