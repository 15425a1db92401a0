// auth's token signing keys: Ed25519 (EdDSA), one active at a time, the
// private half sealed at rest. Services verify tokens against the public halves
// that GetJwks publishes, and find the right one by kid.
import { randomUUID } from "node:crypto";
import type { Sealer } from "@trustmesh/runtime";
import { exportJWK, exportPKCS8, generateKeyPair } from "jose";
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

/** Makes sure a signing key exists (creating and sealing one on first start). */
export function ensureSigningKey(store: AuthStore, sealer: Sealer): Promise<StoredSigningKey> {
  return store.ensureActiveSigningKey(() => createSigningKey(sealer));
}
