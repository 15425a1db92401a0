// VC-JWT: a W3C Verifiable Credentials Data Model 2.0 credential secured as a
// JWS (VC-JOSE-COSE, media type vc+jwt). The JWT payload IS the credential;
// registered JWT claims (iss, sub, jti, iat, nbf, exp) are added with the same
// values as the credential's own properties, so off-the-shelf JWT libraries
// check issuer and validity the way a VC processor does.
import { SignJWT } from "jose";
import { type CredentialTypeDefinition, typeUrls } from "./credential-types.ts";
import { verificationMethodId } from "./did-web.ts";
import type { SigningKey } from "./issuer-keys.ts";
import { bitstringPurposes } from "./status-list-encoding.ts";
import { bitstringListUrl } from "./status-list-urls.ts";

export const vcContextV2 = "https://www.w3.org/ns/credentials/v2";
export const vcJwtMediaType = "vc+jwt";

export interface CredentialContent {
  id: string;
  issuerDid: string;
  issuerUrl: string;
  holderDid: string;
  definition: CredentialTypeDefinition;
  claims: Record<string, unknown>;
  validFrom: Date;
  validUntil: Date;
  statusListId: string;
  statusListIndex: number;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** The VCDM 2.0 credential, with its two Bitstring Status List entries (revocation, suspension) at one index. */
export function vcJwtPayload(content: CredentialContent): Record<string, unknown> {
  const id = `urn:uuid:${content.id}`;
  return {
    "@context": [vcContextV2],
    id,
    type: ["VerifiableCredential", content.definition.vcType],
    issuer: content.issuerDid,
    validFrom: content.validFrom.toISOString(),
    validUntil: content.validUntil.toISOString(),
    credentialSubject: { id: content.holderDid, ...content.claims },
    credentialStatus: bitstringPurposes.map((purpose) => {
      const list = bitstringListUrl(content.issuerUrl, content.statusListId, purpose);
      return {
        id: `${list}#${content.statusListIndex}`,
        type: "BitstringStatusListEntry",
        statusPurpose: purpose,
        statusListIndex: String(content.statusListIndex),
        statusListCredential: list,
      };
    }),
    credentialSchema: { id: typeUrls(content.issuerUrl, content.definition).schema, type: "JsonSchema" },
    iss: content.issuerDid,
    sub: content.holderDid,
    jti: id,
    iat: seconds(new Date()),
    nbf: seconds(content.validFrom),
    exp: seconds(content.validUntil),
  };
}

/** Signs a VCDM 2.0 JSON payload as a compact JWS with the issuer key (EdDSA, typ vc+jwt, kid the DID URL). */
export function signVcJwt(payload: Record<string, unknown>, issuerDid: string, key: SigningKey): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "EdDSA", typ: vcJwtMediaType, cty: "vc", kid: verificationMethodId(issuerDid, key.kid) })
    .sign(key.privateKey);
}
