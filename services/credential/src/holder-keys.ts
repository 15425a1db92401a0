// Holder keys: a custodial did:key made by the service (the private key sealed
// at rest, as a cloud wallet keeps it), or a holder's own key registered with a
// proof of possession, as OpenID4VCI proof JWTs prove it.
import type { Sealer } from "@trustmesh/runtime";
import { invalidArgument } from "@trustmesh/runtime";
import { decodeProtectedHeader, EmbeddedJWK, exportJWK, exportPKCS8, generateKeyPair, jwtVerify } from "jose";
import { DidKeyError, didKeyFromJwk, didKeyFromPublicKey } from "./did-key.ts";
import type { NewHolderDid } from "./store.ts";

/** A fresh Ed25519 did:key whose private key the service keeps, sealed with the DID as context. */
export async function createCustodialHolderDid(sealer: Sealer, walletAddress: string | null): Promise<NewHolderDid> {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const { x = "" } = await exportJWK(publicKey);
  const did = didKeyFromPublicKey(Buffer.from(x, "base64url"));
  return { did, keyCustody: "SERVICE", privateKeySealed: sealer.seal(Buffer.from(await exportPKCS8(privateKey)), did), walletAddress };
}

export const keyProofType = "openid4vci-proof+jwt";
/** How old a key proof may be. */
const keyProofAgeMaxSeconds = 300;

/**
 * The did:key of the Ed25519 key a proof JWT carries in its header, once the
 * proof is shown to be signed by that key, addressed to this issuer, made for
 * this user and fresh. Throws INVALID_ARGUMENT naming key_proof_jwt otherwise.
 */
export async function didOfKeyProof(proof: string, expected: { issuerDid: string; userId: string; now: Date }): Promise<string> {
  const field = "key_proof_jwt";
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalidArgument(field, "is not a compact JWS");
  }
  if (header.typ !== keyProofType) throw invalidArgument(field, `header typ must be ${keyProofType}`);
  if (header.alg !== "EdDSA" || header.jwk?.kty !== "OKP" || header.jwk.crv !== "Ed25519") {
    throw invalidArgument(field, "must be signed with EdDSA by the Ed25519 key in its jwk header");
  }
  if ((header.jwk as Record<string, unknown>).d !== undefined) throw invalidArgument(field, "the jwk header must hold the public key only");
  try {
    await jwtVerify(proof, EmbeddedJWK, {
      algorithms: ["EdDSA"],
      typ: keyProofType,
      audience: expected.issuerDid,
      subject: expected.userId,
      requiredClaims: ["iat"],
      maxTokenAge: keyProofAgeMaxSeconds,
      clockTolerance: 60,
      currentDate: expected.now,
    });
  } catch (error) {
    const why = error instanceof Error ? error.message : "does not verify";
    throw invalidArgument(field, `proof refused: ${why}`);
  }
  try {
    return didKeyFromJwk(header.jwk);
  } catch (error) {
    if (error instanceof DidKeyError) throw invalidArgument(field, error.message);
    throw error;
  }
}
