// did:key for Ed25519 keys (W3C CCG did:key v0.9): the identifier is the
// multicodec-tagged public key in base58btc, so it resolves to its DID document
// by computation alone, with no lookup and no network.
import { base58 } from "@scure/base";

/** Multicodec ed25519-pub (0xed) as an unsigned varint. */
const ed25519Multicodec = Uint8Array.of(0xed, 0x01);
const ed25519PublicKeyBytes = 32;
const didKeyPrefix = "did:key:";

/** A did:key that is not one this service can resolve, with why. */
export class DidKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DidKeyError";
  }
}

/** The multibase (base58btc, "z") multikey of an Ed25519 public key: z6Mk... */
export function ed25519Multikey(publicKey: Uint8Array): string {
  if (publicKey.length !== ed25519PublicKeyBytes) throw new DidKeyError(`an Ed25519 public key is 32 bytes, not ${publicKey.length}`);
  const tagged = new Uint8Array(ed25519Multicodec.length + publicKey.length);
  tagged.set(ed25519Multicodec);
  tagged.set(publicKey, ed25519Multicodec.length);
  return `z${base58.encode(tagged)}`;
}

export function didKeyFromPublicKey(publicKey: Uint8Array): string {
  return `${didKeyPrefix}${ed25519Multikey(publicKey)}`;
}

/** The Ed25519 public key a did:key names; throws DidKeyError for anything else. */
export function publicKeyOfDidKey(did: string): Uint8Array {
  if (!did.startsWith(`${didKeyPrefix}z`)) throw new DidKeyError("a did:key must be did:key:z<base58btc multikey>");
  let tagged: Uint8Array;
  try {
    tagged = base58.decode(did.slice(didKeyPrefix.length + 1));
  } catch {
    throw new DidKeyError("the did:key is not valid base58btc");
  }
  if (tagged[0] !== ed25519Multicodec[0] || tagged[1] !== ed25519Multicodec[1]) {
    throw new DidKeyError("only Ed25519 did:key identifiers (z6Mk...) are supported");
  }
  if (tagged.length !== ed25519Multicodec.length + ed25519PublicKeyBytes)
    throw new DidKeyError("the did:key's Ed25519 key is not 32 bytes");
  return tagged.subarray(ed25519Multicodec.length);
}

/** The public key of a did:key as an OKP JWK, for jose. */
export function publicJwkOfDidKey(did: string): { kty: "OKP"; crv: "Ed25519"; x: string } {
  return { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKeyOfDidKey(did)).toString("base64url") };
}

/** The did:key of an Ed25519 OKP JWK; throws DidKeyError for any other key. */
export function didKeyFromJwk(jwk: { kty?: unknown; crv?: unknown; x?: unknown }): string {
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") throw new DidKeyError("the key must be an Ed25519 OKP JWK");
  return didKeyFromPublicKey(Buffer.from(jwk.x, "base64url"));
}

/**
 * The DID document of a did:key, as the did:key method specifies it for
 * Ed25519: one Multikey verification method, referenced by every relationship
 * a signing key can have. (No derived X25519 keyAgreement key: nothing here
 * encrypts to holders.)
 */
export function didKeyDocument(did: string): Record<string, unknown> {
  const multikey = ed25519Multikey(publicKeyOfDidKey(did));
  const methodId = `${did}#${multikey}`;
  return {
    "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
    id: did,
    verificationMethod: [{ id: methodId, type: "Multikey", controller: did, publicKeyMultibase: multikey }],
    authentication: [methodId],
    assertionMethod: [methodId],
    capabilityInvocation: [methodId],
    capabilityDelegation: [methodId],
  };
}
