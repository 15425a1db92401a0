// Values that interceptors put into a call's context for handlers to read.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { unauthenticated } from "./errors.ts";

/** Who is calling: a signed-in user or an internal service. */
export type Principal =
  | { kind: "user"; userId: string; roles: readonly string[]; sessionId?: string; tokenId?: string }
  | { kind: "service"; serviceName: string; scopes: ReadonlySet<string>; tokenId?: string };

/** Set by the authentication interceptor; undefined for anonymous calls. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "trustmesh principal" });

/**
 * The IP address of the connection a call arrived on (the nearest hop, before
 * any proxy), computed only when a handler asks, so calls that never need it
 * pay nothing but the closure.
 */
export const peerAddressKey = createContextKey<(() => string) | undefined>(undefined, { description: "peer address" });

/** The caller's connection address, or "" when the transport does not know it. */
export function peerAddressOf(context: HandlerContext): string {
  return context.values.get(peerAddressKey)?.() ?? "";
}

export function principalOf(context: HandlerContext): Principal | undefined {
  return context.values.get(principalKey);
}

/** The calling user's id, for handlers of user-audience RPCs. */
export function requireUserId(context: HandlerContext): string {
  const principal = context.values.get(principalKey);
  if (principal?.kind !== "user") throw unauthenticated("a user access token is required");
  return principal.userId;
}

export function isAdmin(principal: Principal | undefined): boolean {
  return principal?.kind === "user" && principal.roles.includes("admin");
}
