// A holder's wallet for tests: an Ed25519 key the test holds, the proof JWT
// that registers it (CreateDid with holder custody), and SD-JWT VC presentations
// with key binding, made with the reference @sd-jwt library as a wallet would.
import { KeyObject, sign } from "node:crypto";
import { base58 } from "@scure/base";
import { digest, generateSalt } from "@sd-jwt/crypto-nodejs";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export interface HolderWallet {
  did: string;
  publicJwk: JWK;
  privateKey: KeyObject;
  /** The OpenID4VCI-style proof of possession CreateDid asks for. */
  keyProof(options: { issuerDid: string; userId: string; issuedAtSeconds?: number; typ?: string }): Promise<string>;
  /** A presentation disclosing only `disclose`, bound to nonce and audience. */
  present(
    credential: string,
    disclose: Record<string, boolean>,
    binding: { nonce: string; audience: string; issuedAtSeconds?: number },
  ): Promise<string>;
}

export async function createHolderWallet(): Promise<HolderWallet> {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const publicJwk = await exportJWK(publicKey);
  // did:key by hand here (multicodec 0xed01 + key, base58btc), so the test does not lean on the service's code.
  const did = `did:key:z${base58.encode(Uint8Array.from([0xed, 0x01, ...Buffer.from(publicJwk.x ?? "", "base64url")]))}`;
  const nodePrivateKey = KeyObject.from(privateKey);
  const wallet = new SDJwtVcInstance({
    hasher: digest,
    saltGenerator: generateSalt,
    kbSigner: async (data: string) => sign(null, Buffer.from(data), nodePrivateKey).toString("base64url"),
    kbSignAlg: "EdDSA",
  });
  return {
    did,
    publicJwk,
    privateKey: nodePrivateKey,
    keyProof: ({ issuerDid, userId, issuedAtSeconds, typ = "openid4vci-proof+jwt" }) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "EdDSA", typ, jwk: { kty: "OKP", crv: "Ed25519", x: publicJwk.x as string } })
        .setAudience(issuerDid)
        .setSubject(userId)
        .setIssuedAt(issuedAtSeconds ?? Math.floor(Date.now() / 1000))
        .sign(privateKey),
    present: (credential, disclose, binding) =>
      wallet.present(credential, disclose, {
        kb: {
          payload: { iat: binding.issuedAtSeconds ?? Math.floor(Date.now() / 1000), aud: binding.audience, nonce: binding.nonce },
        },
      }),
  };
}
