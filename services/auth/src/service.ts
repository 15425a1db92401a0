// The AuthService handlers. GetJwks is served from the start because every
// other service verifies tokens against it; the rest land with issue #3 and
// answer UNIMPLEMENTED until then.
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@trustmesh/api";
import { toPublicJwk } from "./signing-keys.ts";
import type { AuthStore } from "./store.ts";

export interface AuthServiceDependencies {
  store: AuthStore;
  jwksCacheSeconds: number;
  /** Retired keys stay published this long: the longest lifetime of a token they signed. */
  retiredKeyPublishMs: number;
}

type AuthHandlers = Partial<ServiceImpl<typeof AuthService>>;

export function createAuthServiceImpl(dependencies: AuthServiceDependencies): AuthHandlers {
  return {
    async getJwks() {
      const keys = await dependencies.store.publishedSigningKeys(new Date(Date.now() - dependencies.retiredKeyPublishMs));
      return {
        keys: keys.map(toPublicJwk),
        cacheMaxAge: create(DurationSchema, { seconds: BigInt(dependencies.jwksCacheSeconds) }),
      };
    },
  };
}
