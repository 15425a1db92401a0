// Values that interceptors put into a call's context for handlers to read.
import { isIP } from "node:net";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { unauthenticated } from "./errors.ts";

/** Who is calling: a signed-in user or an internal service. */
export type Principal =
  | { kind: "user"; userId: string; roles: readonly string[]; sessionId?: string; tokenId?: string }
  | { kind: "service"; serviceName: string; scopes: ReadonlySet<string>; tokenId?: string };

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

/**
 * Reads the IP address of the connection's other end. Set by both transports
 * as a function, so calls whose handler never asks pay for no string work.
 */
export const peerAddressKey = createContextKey<(() => string) | undefined>(undefined, { description: "trustmesh peer address" });

/**
 * The IP address the call arrived from (the proxy's, behind one), or "" when
 * unknown. Handlers use it to record where a user called from; a service that
 * forwards an end user's address says so in its request instead.
 */
export function peerAddressOf(context: HandlerContext): string {
  const address = context.values.get(peerAddressKey)?.() ?? "";
  return isIP(address) === 0 ? "" : address;
}

/**
 * The IP part of grpc-js's peer string: "<address>:<port>" for TCP, IPv6
 * without brackets ("::1:5000", itself a valid IPv6 address), the bare address
 * when there is no port, or "unknown". So the port is cut off whenever what is
 * left is an address.
 */
export function ipOfGrpcPeer(peer: string): string {
  const portAt = peer.lastIndexOf(":");
  const withoutPort = portAt > 0 && /^\d+$/.test(peer.slice(portAt + 1)) ? peer.slice(0, portAt) : "";
  if (isIP(withoutPort) !== 0) return withoutPort;
  return isIP(peer) === 0 ? "" : peer;
}
