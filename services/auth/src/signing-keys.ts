// auth's token signing keys: Ed25519 (EdDSA), one active at a time, the
// private half sealed at rest. Services verify tokens against the public halves
// that GetJwks publishes, and find the right one by kid. Rotation is a config
// change: a start with a new AUTH_SIGNING_KEY_VERSION retires the active key
// (still published while tokens it signed live) and signs with a new one.
import { createPrivateKey, type KeyObject, randomUUID } from "node:crypto";
import type { Sealer } from "@trustmesh/runtime";
import { exportJWK, exportPKCS8, generateKeyPair, importJWK, type JWK, type JWTVerifyGetKey, errors as joseErrors } from "jose";
import type { AuthStore, StoredSigningKey } from "./store.ts";

/** A public key as GetJwks publishes it. */
export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  alg: "EdDSA";
  use: "sig";
}

export async function createSigningKey(sealer: Sealer): Promise<StoredSigningKey> {
  const kid = randomUUID();
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const { kty, crv, x } = await exportJWK(publicKey);
  // The kid is the sealing context, so a sealed key cannot be swapped onto another row.
  const privateKeySealed = sealer.seal(Buffer.from(await exportPKCS8(privateKey)), kid);
  return {
    kid,
    publicJwk: { kty: kty ?? "OKP", crv: crv ?? "Ed25519", x: x ?? "" },
    privateKeySealed,
    createdAt: new Date(),
    retiredAt: null,
    version: "",
  };
}

export function toPublicJwk(key: StoredSigningKey): PublicJwk {
  const { kty = "OKP", crv = "Ed25519", x = "" } = key.publicJwk;
  return { kty, crv, x, kid: key.kid, alg: "EdDSA", use: "sig" };
}

/** The PKCS#8 private key; throws when the key ring cannot open it. */
export function openPrivateKey(key: StoredSigningKey, sealer: Sealer): string {
  return sealer.open(key.privateKeySealed, key.kid).toString("utf8");
}

/** The active signing key of this version, made (and the previous one retired) when there is none. */
export function ensureSigningKey(store: AuthStore, sealer: Sealer, version: string): Promise<StoredSigningKey> {
  return store.ensureActiveSigningKey(version, () => createSigningKey(sealer));
}

/** What signs tokens: the active key's id and its private key, opened once at start. */
export interface ActiveSigningKey {
  kid: string;
  privateKey: KeyObject;
}

export function activeSigningKey(key: StoredSigningKey, sealer: Sealer): ActiveSigningKey {
  return { kid: key.kid, privateKey: createPrivateKey(openPrivateKey(key, sealer)) };
}

/**
 * auth's own token verifier reads keys from its database rather than over the
 * network from itself. Keys are cached and reloaded when a token names an
 * unknown kid (another replica rotated), at most once per cooldown.
 */
export function createDatabaseKeySet(store: AuthStore, publishWindowMs: number, cooldownMs = 30_000): JWTVerifyGetKey {
  let keys = new Map<string, Awaited<ReturnType<typeof importJWK>>>();
  let loadedAtMs = 0;
  let loading: Promise<void> | undefined;
  const load = async () => {
    const published = await store.publishedSigningKeys(new Date(Date.now() - publishWindowMs));
    const next = new Map<string, Awaited<ReturnType<typeof importJWK>>>();
    for (const key of published) next.set(key.kid, await importJWK(toPublicJwk(key) as JWK, "EdDSA"));
    keys = next;
    loadedAtMs = Date.now();
  };
  return async (header) => {
    const kid = header.kid ?? "";
    if (!keys.has(kid) && Date.now() - loadedAtMs > cooldownMs) {
      loading ??= load().finally(() => {
        loading = undefined;
      });
      await loading;
    }
    const key = keys.get(kid);
    if (!key) throw new joseErrors.JWKSNoMatchingKey();
    return key;
  };
}
