// GetJwks and its HTTP twin, /.well-known/jwks.json: the current signing key
// and the retired ones still inside the lifetime of tokens they signed.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import type { GetJwksResponseSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import type { HttpRouteResponse } from "@trustmesh/runtime";
import { type PublicJwk, toPublicJwk } from "../signing-keys.ts";
import type { AuthStore } from "../store.ts";

export async function publishedKeys(store: AuthStore, retiredKeyPublishMs: number): Promise<PublicJwk[]> {
  const keys = await store.publishedSigningKeys(new Date(Date.now() - retiredKeyPublishMs));
  return keys.map(toPublicJwk);
}

export async function getJwks(
  store: AuthStore,
  retiredKeyPublishMs: number,
  cacheSeconds: number,
): Promise<MessageInitShape<typeof GetJwksResponseSchema>> {
  return {
    keys: await publishedKeys(store, retiredKeyPublishMs),
    cacheMaxAge: create(DurationSchema, { seconds: BigInt(cacheSeconds) }),
  };
}

export async function jwksDocument(store: AuthStore, retiredKeyPublishMs: number, cacheSeconds: number): Promise<HttpRouteResponse> {
  return {
    status: 200,
    headers: { "content-type": "application/jwk-set+json", "cache-control": `public, max-age=${cacheSeconds}` },
    body: JSON.stringify({ keys: await publishedKeys(store, retiredKeyPublishMs) }),
  };
}
