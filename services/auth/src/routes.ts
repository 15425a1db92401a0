// What the auth process serves, and where its own token verifier gets keys:
// straight from its database rather than over the network from itself.
import { AuthService } from "@trustmesh/api";
import { createSealer, parseKeyRing, registration, type ServiceDefinition } from "@trustmesh/runtime";
import { createLocalJWKSet } from "jose";
import { authConfigShape } from "./config.ts";
import { createAuthServiceImpl } from "./service.ts";
import { ensureSigningKey, openPrivateKey, toPublicJwk } from "./signing-keys.ts";
import { createAuthStore } from "./store.ts";

/** Access tokens live at most this long, so retired keys are published this long after retiring. */
const accessTokenLifetimeMaxMs = 15 * 60_000;

export const authDefinition: ServiceDefinition<typeof authConfigShape> = {
  name: "auth",
  configShape: authConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  async tokenKeys({ config, pool }) {
    const store = createAuthStore(pool);
    const sealer = createSealer(parseKeyRing(config.AUTH_KEK_RING), config.AUTH_KEK_ACTIVE_ID);
    const active = await ensureSigningKey(store, sealer);
    // Fail at start, not at the first login, when the key ring cannot open the signing key.
    openPrivateKey(active, sealer);
    const keys = await store.publishedSigningKeys(new Date(Date.now() - accessTokenLifetimeMaxMs));
    return createLocalJWKSet({ keys: keys.map(toPublicJwk) });
  },
  createServices({ config, pool }) {
    const store = createAuthStore(pool);
    const impl = createAuthServiceImpl({
      store,
      jwksCacheSeconds: config.AUTH_JWKS_CACHE_SECONDS,
      retiredKeyPublishMs: accessTokenLifetimeMaxMs,
    });
    return [registration(AuthService, impl)];
  },
};
