// Internal services authenticate to IssueServiceToken with a client id and
// secret (OAuth 2.0 client credentials). Config holds only an argon2id hash of
// each secret, so a leaked config or environment dump does not hand out
// service identities; argon2's verify compares in constant time.
import { trustmeshServices } from "@trustmesh/api";
import * as argon2 from "argon2";
import { z } from "zod";

/** "pkg.Service/Method" or "pkg.Service/*". */
const scopePattern = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*\.[A-Z][A-Za-z0-9]*\/([A-Z][A-Za-z0-9]*|\*)$/;

export const serviceClientsSchema = z.record(
  z.string().regex(/^[a-z][a-z0-9-]{1,62}$/, "client ids are lower-case names"),
  z.object({
    secretHash: z.string().startsWith("$argon2id$", "secretHash must be an argon2id PHC string"),
    scopes: z.array(z.string().regex(scopePattern, 'scopes are "pkg.Service/Method" or "pkg.Service/*"')).max(1000),
  }),
);

export type ServiceClients = z.output<typeof serviceClientsSchema>;

/** The protobuf service a token audience names, e.g. "ledger" → "trustmesh.ledger.v1.LedgerService". */
export function serviceTypeNameOf(audience: string): string | undefined {
  return (trustmeshServices as Record<string, { typeName: string }>)[audience]?.typeName;
}

/** The configured scopes of a client that fall within the audience service. */
export function scopesFor(clients: ServiceClients, clientId: string, audience: string): string[] {
  const typeName = serviceTypeNameOf(audience);
  const client = Object.hasOwn(clients, clientId) ? clients[clientId] : undefined;
  if (!typeName || !client) return [];
  return client.scopes.filter((scope) => scope.startsWith(`${typeName}/`));
}

/** A hash that no secret matches, verified for unknown clients so both cases take as long. */
const unknownClientHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$pO7QrP3cTBFXaQFq7nMbz4p1d3O8Hu1C1jNw2wdt+gY";

export async function verifyClientSecret(clients: ServiceClients, clientId: string, secret: string): Promise<boolean> {
  const client = Object.hasOwn(clients, clientId) ? clients[clientId] : undefined;
  const matches = await argon2.verify(client?.secretHash ?? unknownClientHash, secret).catch(() => false);
  return matches && client !== undefined;
}

/** The hash to put into AUTH_SERVICE_CLIENTS for a secret (npm start and operators use it). */
export function hashClientSecret(secret: string): Promise<string> {
  return argon2.hash(secret, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
}
