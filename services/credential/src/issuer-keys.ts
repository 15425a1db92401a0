// The issuer's signing keys: Ed25519 (EdDSA), one active at a time, the private
// half sealed at rest (DESIGN.md §4). The kid is the key's RFC 7638 JWK
// thumbprint, so it names the key itself. Rotation retires the active key and
// makes a new one; retired keys stay in the DID document for good, so every
// credential and status list they signed keeps verifying.
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import type { Sealer } from "@trustmesh/runtime";
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair } from "jose";
import type { CredentialStore, StoredIssuerKey } from "./store.ts";

export async function createIssuerKey(sealer: Sealer): Promise<StoredIssuerKey> {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const { x = "" } = await exportJWK(publicKey);
  const publicJwk = { kty: "OKP", crv: "Ed25519", x };
  const kid = await calculateJwkThumbprint(publicJwk, "sha256");
  // The kid is the sealing context, so a sealed key cannot be swapped onto another row.
  const privateKeySealed = sealer.seal(Buffer.from(await exportPKCS8(privateKey)), kid);
  return { kid, publicJwk, privateKeySealed, createdAt: new Date(), retiredAt: null };
}

/** An issuer key ready to sign: its kid and the opened private key. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

export interface IssuerKeys {
  /** The key that signs now, read from the database so a rotation by another replica or the CLI takes effect at once. */
  signingKey(): Promise<SigningKey>;
  /** A public key by kid, active or retired; undefined when this issuer never had it. */
  publicKey(kid: string): Promise<KeyObject | undefined>;
  /** Every key ever used, newest first, for the DID document. */
  allKeys(): Promise<StoredIssuerKey[]>;
  /** Retires the active key and makes a new one; returns the new kid. */
  rotate(): Promise<string>;
  /** Rotates when the active key is older than maxAgeMs; returns whether it did. */
  rotateIfOlderThan(maxAgeMs: number): Promise<boolean>;
}

/** kids look like base64url SHA-256 thumbprints; anything else is never looked up. */
const kidPattern = /^[A-Za-z0-9_-]{43}$/;

export function createIssuerKeys(store: CredentialStore, sealer: Sealer): IssuerKeys {
  // Opened private keys and public keys never change for a kid, so they are cached for good;
  // an issuer has a handful of keys over its life.
  const privateKeys = new Map<string, KeyObject>();
  const publicKeys = new Map<string, KeyObject>();
  const open = (key: StoredIssuerKey): KeyObject => {
    let privateKey = privateKeys.get(key.kid);
    if (!privateKey) {
      privateKey = createPrivateKey(sealer.open(key.privateKeySealed, key.kid).toString("utf8"));
      privateKeys.set(key.kid, privateKey);
    }
    return privateKey;
  };
  return {
    async signingKey() {
      // One plain read on the hot path; the locked create-if-missing runs only before the first key exists.
      const active = (await store.activeIssuerKey()) ?? (await store.ensureActiveIssuerKey(() => createIssuerKey(sealer)));
      return { kid: active.kid, privateKey: open(active) };
    },
    async publicKey(kid) {
      const cached = publicKeys.get(kid);
      if (cached) return cached;
      if (!kidPattern.test(kid)) return undefined;
      const stored = await store.issuerKey(kid);
      if (!stored) return undefined;
      const publicKey = createPublicKey({ key: { ...stored.publicJwk }, format: "jwk" });
      publicKeys.set(kid, publicKey);
      return publicKey;
    },
    allKeys: () => store.issuerKeys(),
    async rotate() {
      // A minimum age of 0 always rotates.
      const fresh = await store.rotateIssuerKey(() => createIssuerKey(sealer), 0);
      return (fresh as StoredIssuerKey).kid;
    },
    async rotateIfOlderThan(maxAgeMs) {
      return (await store.rotateIssuerKey(() => createIssuerKey(sealer), maxAgeMs)) !== undefined;
    },
  };
}
