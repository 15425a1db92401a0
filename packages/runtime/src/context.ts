// Values that interceptors put into a call's context for handlers to read.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { unauthenticated } from "./errors.ts";

/** Who is calling: a signed-in user or an internal service. */
export type Principal =
  | { kind: "user"; userId: string; roles: readonly string[]; sessionId?: string; tokenId?: string }
  | { kind: "service"; serviceName: string; tokenId?: string };

/** Set by the authentication interceptor; undefined for anonymous calls. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "trustmesh principal" });

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
