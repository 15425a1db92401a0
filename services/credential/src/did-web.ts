// did:web for the issuer (W3C CCG did:web): the DID names the host, and its DID
// document is served at https://<host>/.well-known/did.json. The document lists
// every issuer key ever used, retired ones included, so credentials signed
// before a rotation keep verifying.

/** The did:web of an origin: did:web:example.com, or did:web:localhost%3A8084 with a port. */
export function didWebOfOrigin(origin: URL): string {
  // The method-specific id is the host, with the port's colon percent-encoded.
  return `did:web:${origin.host.replace(":", "%3A")}`;
}

/** A public issuer key as the DID document lists it. */
export interface IssuerVerificationKey {
  kid: string;
  publicJwk: { kty: string; crv: string; x: string };
}

/** The verification method id (a DID URL) of an issuer key: the `kid` of everything it signs. */
export function verificationMethodId(issuerDid: string, kid: string): string {
  return `${issuerDid}#${kid}`;
}

/**
 * The issuer's DID document: each key as a JsonWebKey2020 verification method
 * (a JWK, which JOSE-based verifiers such as Veramo, Credo and walt.id read
 * directly), all of them assertion methods, newest first.
 */
export function issuerDidDocument(issuerDid: string, keys: readonly IssuerVerificationKey[]): Record<string, unknown> {
  const methods = keys.map((key) => ({
    id: verificationMethodId(issuerDid, key.kid),
    type: "JsonWebKey2020",
    controller: issuerDid,
    publicKeyJwk: { kty: key.publicJwk.kty, crv: key.publicJwk.crv, x: key.publicJwk.x },
  }));
  return {
    "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
    id: issuerDid,
    verificationMethod: methods,
    assertionMethod: methods.map((method) => method.id),
  };
}
