// Goal (issue #7's interop acceptance test): what this issuer publishes is
// readable by standard tools alone, without any of the service's own code
// (nothing from ../src is imported here). A VC-JWT verifies with `jose` given
// the issuer key found by resolving the issuer's did:web the way did:web says
// (GET /.well-known/did.json on the DID's host) and picking the method the JWS
// `kid` names; an SD-JWT VC decodes with the reference @sd-jwt/decode and
// verifies with the reference @sd-jwt/sd-jwt-vc — signature, key binding, and
// its Token Status List fetched over HTTP — until it is revoked.
import assert from "node:assert/strict";
import { createPublicKey, type JsonWebKey, type KeyObject, verify as verifySignature } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { digest } from "@sd-jwt/crypto-nodejs";
import { decodeSdJwt, getClaims } from "@sd-jwt/decode";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { CredentialFormat, KeyCustody } from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { decodeProtectedHeader, type JWK, jwtVerify } from "jose";
import { createHolderWallet, type HolderWallet } from "./support/holder.ts";
import { bearer, type CredentialPlatform, startCredentialPlatform } from "./support/platform.ts";

interface DidDocument {
  id: string;
  verificationMethod: { id: string; type: string; controller: string; publicKeyJwk: JWK }[];
  assertionMethod: string[];
}

/** did:web resolution as the method specifies it (http here, as the test platform has no TLS). */
async function resolveDidWeb(did: string): Promise<DidDocument> {
  const host = decodeURIComponent(did.slice("did:web:".length));
  return (await (await fetch(`http://${host}/.well-known/did.json`)).json()) as DidDocument;
}

/** The issuer's key a JWS names by kid, only if the DID document lists it as an assertion method. */
async function issuerKeyFor(jws: string): Promise<{ key: KeyObject; did: string }> {
  const kid = String(decodeProtectedHeader(jws).kid);
  const did = kid.split("#")[0] as string;
  const document = await resolveDidWeb(did);
  assert.equal(document.id, did);
  assert.ok(document.assertionMethod.includes(kid), `${kid} is an assertion method`);
  const method = document.verificationMethod.find((entry) => entry.id === kid);
  assert.ok(method);
  return { key: createPublicKey({ key: method.publicKeyJwk as JsonWebKey, format: "jwk" }), did };
}

describe("interop with standard tools, without the service's code", function () {
  this.timeout(120_000);
  let platform: CredentialPlatform;
  let admin: ReturnType<typeof bearer>;
  let issuerDid: string;
  let wallet: HolderWallet;
  const userId = crypto.randomUUID();

  before(async () => {
    platform = await startCredentialPlatform();
    admin = bearer(await platform.userToken(crypto.randomUUID(), ["admin"]));
    issuerDid = ((await (await fetch(`${platform.httpUrl}/.well-known/did.json`)).json()) as DidDocument).id;
    wallet = await createHolderWallet();
    await platform.client.createDid(
      { idempotencyKey: "wallet", keyCustody: KeyCustody.HOLDER, keyProofJwt: await wallet.keyProof({ issuerDid, userId }) },
      bearer(await platform.userToken(userId)),
    );
  });

  after(async () => {
    await platform?.stop();
  });

  const issue = async (key: string, format: CredentialFormat) => {
    const { credential } = await platform.client.issueCredential(
      { idempotencyKey: key, userId, holderDid: wallet.did, format, claims: { case: "email", value: { email: "ada@example.com" } } },
      admin,
    );
    assert.ok(credential);
    return credential;
  };

  it("verifies a VC-JWT with jose alone, given the key the resolved did:web document names", async () => {
    const credential = await issue("vc-jwt", CredentialFormat.VC_JWT);
    const { key, did } = await issuerKeyFor(credential.encoded);
    const { payload, protectedHeader } = await jwtVerify(credential.encoded, key, { issuer: did, typ: "vc+jwt", algorithms: ["EdDSA"] });
    assert.deepEqual(payload["@context"], ["https://www.w3.org/ns/credentials/v2"]);
    assert.deepEqual(payload.type, ["VerifiableCredential", "VerifiedEmailCredential"]);
    assert.equal(payload.issuer, did);
    assert.deepEqual(payload.credentialSubject, { id: wallet.did, email: "ada@example.com" });
    assert.equal(payload.validUntil, new Date((payload.exp as number) * 1000).toISOString());
    assert.equal(protectedHeader.alg, "EdDSA");

    // Its Bitstring Status List is a VC-JWT of the same issuer; the credential's bit reads clear.
    const [entry] = payload.credentialStatus as { statusListCredential: string; statusListIndex: string; statusPurpose: string }[];
    assert.ok(entry);
    const listJwt = await (await fetch(entry.statusListCredential)).text();
    const list = await jwtVerify(listJwt, (await issuerKeyFor(listJwt)).key, { issuer: did });
    const subject = list.payload.credentialSubject as { type: string; statusPurpose: string; encodedList: string };
    assert.equal(subject.type, "BitstringStatusList");
    assert.equal(subject.statusPurpose, entry.statusPurpose);
    const bits = gunzipSync(Buffer.from(subject.encodedList.slice(1), "base64url"));
    const index = Number(entry.statusListIndex);
    assert.equal((bits[index >> 3] as number) & (0x80 >> (index & 7)), 0);
  });

  it("decodes an SD-JWT VC with @sd-jwt/decode and verifies it, its key binding and its status with @sd-jwt/sd-jwt-vc", async () => {
    const credential = await issue("sd-jwt-vc", CredentialFormat.SD_JWT_VC);
    const decoded = await decodeSdJwt(credential.encoded, digest);
    assert.equal(decoded.jwt.header.typ, "dc+sd-jwt");
    assert.equal(decoded.jwt.payload.iss, issuerDid);
    assert.equal(decoded.jwt.payload._sd_alg, "sha-256");
    assert.equal(decoded.jwt.payload.email, undefined, "the claim is selectively disclosable, not in the clear");
    const claims = await getClaims<Record<string, unknown>>(decoded.jwt.payload, decoded.disclosures, digest);
    assert.equal(claims.email, "ada@example.com");
    assert.equal(claims.sub, wallet.did);
    assert.deepEqual((claims.cnf as { jwk: JWK }).jwk, { kty: "OKP", crv: "Ed25519", x: wallet.publicJwk.x });

    const { key } = await issuerKeyFor(credential.encoded.split("~")[0] as string);
    const verifier = new SDJwtVcInstance({
      hasher: digest,
      verifier: (data: string, signature: string) => verifySignature(null, Buffer.from(data), key, Buffer.from(signature, "base64url")),
      // The holder's key, as the credential's cnf carries it.
      kbVerifier: (data: string, signature: string, payload: Record<string, unknown>) =>
        verifySignature(
          null,
          Buffer.from(data),
          createPublicKey({ key: (payload.cnf as { jwk: JsonWebKey }).jwk, format: "jwk" }),
          Buffer.from(signature, "base64url"),
        ),
    });
    const nonce = "interop-nonce-0123456789";
    const presentation = await wallet.present(credential.encoded, { email: true }, { nonce, audience: "https://verifier.example" });
    const result = await verifier.verify(presentation, { keyBindingNonce: nonce, requiredClaimKeys: ["email"] });
    assert.equal(result.payload.email, "ada@example.com");
    assert.equal(result.kb?.payload.aud, "https://verifier.example");

    await platform.client.revokeCredential({ credentialId: credential.id, reason: "interop" }, admin);
    await assert.rejects(verifier.verify(presentation, { keyBindingNonce: nonce }), /Status is not valid/);
  });
});
