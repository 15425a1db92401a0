// Client credentials for service-to-service calls in throwaway and local
// platforms: one secret per service and auth's AUTH_SERVICE_CLIENTS, which
// holds only their argon2id hashes. startServices and `npm start` both take
// them from here, so the scopes a service is given are written down once.
import { randomBytes } from "node:crypto";
import * as argon2 from "argon2";
import type { ServiceName } from "./services.ts";

const everyService = [
  "auth.v1.AuthService",
  "payments.v1.PaymentsService",
  "ledger.v1.LedgerService",
  "credential.v1.CredentialService",
  "healthprocessing.v1.HealthProcessingService",
  "face.v1.FaceService",
].map((name) => `trustmesh.${name}/*`);

/**
 * The methods each service's client may call. payments gets exactly what it
 * needs (the ledger, and auth's ResolveContact to find a recipient); the
 * others call no service yet and keep every scope, so a developer can use
 * their secret with grpcurl. The RPC rules still decide what each may call.
 */
export const serviceClientScopes: Readonly<Record<ServiceName, readonly string[]>> = {
  auth: everyService,
  payments: ["trustmesh.ledger.v1.LedgerService/*", "trustmesh.auth.v1.AuthService/ResolveContact"],
  ledger: everyService,
  credential: everyService,
  "health-processing": everyService,
  face: everyService,
};

export interface ServiceClientCredentials {
  /** The plain secret of each client, handed to the service that authenticates with it. */
  secrets: Partial<Record<ServiceName, string>>;
  /** auth's AUTH_SERVICE_CLIENTS: each client's argon2id hash and scopes. */
  authServiceClients: string;
}

/** Fresh random credentials for the named services (argon2id, the parameters auth itself uses). */
export async function createServiceClientCredentials(names: readonly ServiceName[]): Promise<ServiceClientCredentials> {
  const secrets: Partial<Record<ServiceName, string>> = {};
  const clients: Record<string, { secretHash: string; scopes: readonly string[] }> = {};
  for (const name of names) {
    const secret = randomBytes(32).toString("base64url");
    secrets[name] = secret;
    clients[name] = {
      secretHash: await argon2.hash(secret, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 }),
      scopes: serviceClientScopes[name],
    };
  }
  return { secrets, authServiceClients: JSON.stringify(clients) };
}

/** The variables that hand a service its own client secret (only payments calls other services today). */
export function serviceClientEnvironment(name: ServiceName, credentials: ServiceClientCredentials): Record<string, string> {
  if (name === "payments" && credentials.secrets.payments) return { PAYMENTS_SERVICE_CLIENT_SECRET: credentials.secrets.payments };
  return {};
}
