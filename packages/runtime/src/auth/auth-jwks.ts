// Services get auth's public keys by calling AuthService.GetJwks over gRPC with
// the generated client — traced and deadline-bound like any other call — and
// hand them to jose's remote key set, which does the caching, refetch on an
// unknown kid, and cooldown.
import { AuthService } from "@trustmesh/api";
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from "jose";
import { createServiceClient } from "../client.ts";
import type { RpcMetrics } from "../metrics.ts";

export interface AuthJwksOptions {
  /** auth's gRPC address, e.g. http://auth:50051. */
  authGrpcUrl: string;
  metrics?: RpcMetrics;
  cooldownMs?: number;
  /** Upper bound on how long fetched keys are trusted without a refetch. */
  cacheMaxAgeMs?: number;
}

export function createAuthJwks(options: AuthJwksOptions): JWTVerifyGetKey {
  const auth = createServiceClient(AuthService, { baseUrl: options.authGrpcUrl, metrics: options.metrics, defaultTimeoutMs: 5000 });
  return createRemoteJWKSet(new URL("/trustmesh.auth.v1.AuthService/GetJwks", options.authGrpcUrl), {
    cooldownDuration: options.cooldownMs ?? 30_000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
    async [customFetch](_url, init) {
      const response = await auth.getJwks({}, { signal: init.signal });
      // jose validates the document; fields are the JWK members, unset ones dropped.
      const keys = response.keys.map(({ kty, crv, x, kid, alg, use }) =>
        Object.fromEntries(Object.entries({ kty, crv, x, kid, alg, use }).filter(([, value]) => value !== "")),
      );
      return new Response(JSON.stringify({ keys }), { status: 200, headers: { "content-type": "application/json" } });
    },
  });
}
