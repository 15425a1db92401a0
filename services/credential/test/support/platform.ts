// Real auth and credential processes on a throwaway Postgres and Redis, with
// tokens minted as auth mints them: signed by auth's own signing key (read from
// auth's database and opened with the key ring the test gave it), so credential
// verifies them against auth's real GetJwks, as in production.
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { CredentialService } from "@trustmesh/api";
import {
  createAuthTokenSigner,
  type PostgresServer,
  type RedisServer,
  type RunningServices,
  randomKeyEncryptionKeys,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";

export interface CredentialPlatform {
  readonly services: RunningServices;
  /** The credential service's HTTP (Connect) base URL. */
  readonly httpUrl: string;
  readonly grpcUrl: string;
  readonly metricsUrl: string;
  readonly databaseUrl: string;
  readonly keyEncryptionKeys: { ring: string; activeId: string };
  /** A Connect (HTTP/1.1) client. */
  readonly client: Client<typeof CredentialService>;
  /** A gRPC client, as internal callers use. */
  readonly grpcClient: Client<typeof CredentialService>;
  /** An access token of a user, as auth issues them. */
  userToken(userId: string, roles?: string[]): Promise<string>;
  /** A service token, as auth's IssueServiceToken issues them: sub = the calling service, aud = the target. */
  serviceToken(serviceName: string, audience?: string): Promise<string>;
  stop(): Promise<void>;
}

export const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

export async function startCredentialPlatform(env: Record<string, string> = {}): Promise<CredentialPlatform> {
  const [postgres, redis]: [PostgresServer, RedisServer] = await Promise.all([startPostgres(), startRedis()]);
  const keyEncryptionKeys = randomKeyEncryptionKeys();
  const databaseUrls: Record<string, string> = {};
  let services: RunningServices;
  try {
    services = await startServices({
      names: ["auth", "credential"],
      databaseUrlFor: async (name) => {
        databaseUrls[name] = await postgres.createDatabase(`trustmesh_${name}`);
        return databaseUrls[name] as string;
      },
      redisUrl: redis.url,
      keyEncryptionKeys,
      env: { LOG_LEVEL: "warn", ...env },
    });
  } catch (error) {
    await Promise.all([redis.stop(), postgres.stop()]);
    throw error;
  }
  const credential = services.services.credential;
  if (!credential) throw new Error("credential did not start");

  // Tokens signed with auth's own signing key, as auth itself opens it.
  const sign = await createAuthTokenSigner(databaseUrls.auth as string, keyEncryptionKeys);

  return {
    services,
    httpUrl: credential.httpUrl,
    grpcUrl: credential.grpcUrl,
    metricsUrl: credential.metricsUrl,
    databaseUrl: databaseUrls.credential as string,
    keyEncryptionKeys,
    client: createClient(CredentialService, createConnectTransport({ baseUrl: credential.httpUrl, httpVersion: "1.1" })),
    grpcClient: createClient(CredentialService, createGrpcTransport({ baseUrl: credential.grpcUrl })),
    userToken: (userId, roles = []) => sign({ token_kind: "user", roles, sid: crypto.randomUUID() }, userId, "trustmesh"),
    // Service tokens carry a scope, as IssueServiceToken's do; the runtime admits none without one.
    serviceToken: (serviceName, audience = "credential") =>
      sign({ token_kind: "service", scope: "trustmesh.credential.v1.CredentialService/*" }, serviceName, audience),
    async stop() {
      await services.stop();
      await Promise.all([redis.stop(), postgres.stop()]);
    },
  };
}
