// What the CredentialService handlers need, passed in by routes.ts (or a test).
import type { HandlerContext } from "@connectrpc/connect";
import { type Principal, principalOf, type Sealer, unauthenticated } from "@trustmesh/runtime";
import type { CredentialEncoding } from "../generated/prisma/enums.ts";
import type { IssuerKeys } from "../issuer-keys.ts";
import type { CredentialMetrics } from "../metrics.ts";
import type { StatusLists } from "../status-lists.ts";
import type { CredentialStore } from "../store.ts";
import type { Verifier } from "../verification.ts";

export interface CredentialServiceDependencies {
  store: CredentialStore;
  sealer: Sealer;
  issuerKeys: IssuerKeys;
  statusLists: StatusLists;
  verifier: Verifier;
  metrics: CredentialMetrics;
  issuerDid: string;
  /** The issuer's public origin, without a trailing slash. */
  issuerUrl: string;
  defaultEncoding: CredentialEncoding;
  validityMs: number;
  statusListSize: number;
  now?: () => Date;
}

export function callerOf(context: HandlerContext): Principal {
  const principal = principalOf(context);
  if (!principal) throw unauthenticated();
  return principal;
}

export function sameHash(a: Uint8Array | null, b: Uint8Array): boolean {
  return a !== null && Buffer.from(a).equals(Buffer.from(b));
}
