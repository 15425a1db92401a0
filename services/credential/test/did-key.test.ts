// Goal: did:key identifiers are exactly the did:key method's for Ed25519 — the
// spec's own example key gives the spec's DID — they round-trip through their
// public key and JWK, and anything that is not an Ed25519 did:key is refused
// with a reason instead of resolving to garbage.
import assert from "node:assert/strict";
import { base58 } from "@scure/base";
import { exportJWK, generateKeyPair } from "jose";
import { DidKeyError, didKeyDocument, didKeyFromJwk, didKeyFromPublicKey, publicJwkOfDidKey, publicKeyOfDidKey } from "../src/did-key.ts";
import { didWebOfOrigin, issuerDidDocument } from "../src/did-web.ts";

// The did:key specification's example (Ed25519, publicKeyBase58 in its Ed25519VerificationKey2018 form).
const specDid = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH";
const specPublicKeyBase58 = "B12NYF8RrR3h41TDCTJojY59usg3mbtbjnFs7Eud1Y6u";

describe("did:key (Ed25519)", () => {
  it("encodes the specification's example key as the specification's DID, and back", () => {
    const publicKey = base58.decode(specPublicKeyBase58);
    assert.equal(didKeyFromPublicKey(publicKey), specDid);
    assert.deepEqual(publicKeyOfDidKey(specDid), publicKey);
  });

  it("round-trips a fresh key through its JWK", async () => {
    const { publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const jwk = await exportJWK(publicKey);
    const did = didKeyFromJwk(jwk);
    assert.match(did, /^did:key:z6Mk/);
    assert.deepEqual(publicJwkOfDidKey(did), { kty: "OKP", crv: "Ed25519", x: jwk.x });
  });

  it("resolves to a document with one Multikey method used for every signing relationship", () => {
    const document = didKeyDocument(specDid) as Record<string, unknown>;
    const methodId = `${specDid}#${specDid.slice("did:key:".length)}`;
    assert.equal(document.id, specDid);
    assert.deepEqual(document.verificationMethod, [
      { id: methodId, type: "Multikey", controller: specDid, publicKeyMultibase: specDid.slice("did:key:".length) },
    ]);
    for (const relationship of ["authentication", "assertionMethod", "capabilityInvocation", "capabilityDelegation"]) {
      assert.deepEqual(document[relationship], [methodId]);
    }
  });

  it("refuses other methods, other key types, bad base58 and truncated keys", () => {
    // A secp256k1 did:key (multicodec 0xe7): well-formed, but not Ed25519.
    const secp256k1 = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme";
    for (const did of ["did:web:example.com", secp256k1, "did:key:z0OIl", `${specDid.slice(0, -4)}`, "did:key:abc"]) {
      assert.throws(() => publicKeyOfDidKey(did), DidKeyError, did);
    }
    assert.throws(() => didKeyFromJwk({ kty: "EC", crv: "P-256", x: "AA" }), DidKeyError);
  });
});

describe("did:web (issuer)", () => {
  it("names the host, with a port's colon percent-encoded", () => {
    assert.equal(didWebOfOrigin(new URL("https://id.example.com")), "did:web:id.example.com");
    assert.equal(didWebOfOrigin(new URL("http://localhost:8084")), "did:web:localhost%3A8084");
  });

  it("lists every key, retired ones included, as JsonWebKey2020 assertion methods", () => {
    const keys = [
      { kid: "new", publicJwk: { kty: "OKP", crv: "Ed25519", x: "bmV3" } },
      { kid: "old", publicJwk: { kty: "OKP", crv: "Ed25519", x: "b2xk" } },
    ];
    const document = issuerDidDocument("did:web:id.example.com", keys) as {
      verificationMethod: { id: string }[];
      assertionMethod: string[];
    };
    assert.deepEqual(document.assertionMethod, ["did:web:id.example.com#new", "did:web:id.example.com#old"]);
    assert.deepEqual(
      document.verificationMethod.map((method) => method.id),
      document.assertionMethod,
    );
  });
});
