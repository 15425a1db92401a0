// SD-JWT VC (IETF draft-ietf-oauth-sd-jwt-vc, media type dc+sd-jwt), issued
// with the reference @sd-jwt packages: every subject claim is its own
// disclosure, so the holder reveals only what a verifier needs; `cnf` binds it
// to the holder's key, and `status` points at a Token Status List entry.
import { sign } from "node:crypto";
import { digest, generateSalt } from "@sd-jwt/crypto-nodejs";
import { SDJwtVcInstance, type SdJwtVcPayload } from "@sd-jwt/sd-jwt-vc";
import type { DisclosureFrame } from "@sd-jwt/types";
import { typeUrls } from "./credential-types.ts";
import { publicJwkOfDidKey } from "./did-key.ts";
import { verificationMethodId } from "./did-web.ts";
import type { SigningKey } from "./issuer-keys.ts";
import { tokenListUrl } from "./status-list-urls.ts";
import type { CredentialContent } from "./vc-jwt.ts";

export const sdJwtVcMediaType = "dc+sd-jwt";
export const sdHashAlgorithm = "sha-256";

/**
 * Every credential carries this many digests in `_sd`, real ones topped up with
 * decoys, so the count does not tell which optional claims (verified_at) it has.
 */
const digestsPerCredential = 8;

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** The issuer-signed SD-JWT VC with every disclosure: `<jwt>~<disclosure>~...~`. */
export function issueSdJwtVc(content: CredentialContent, key: SigningKey): Promise<string> {
  const instance = new SDJwtVcInstance({
    signer: async (data: string) => sign(null, Buffer.from(data), key.privateKey).toString("base64url"),
    signAlg: "EdDSA",
    hasher: digest,
    hashAlg: sdHashAlgorithm,
    saltGenerator: generateSalt,
  });
  const claimNames = Object.keys(content.claims);
  const payload: SdJwtVcPayload = {
    iss: content.issuerDid,
    iat: seconds(new Date()),
    nbf: seconds(content.validFrom),
    exp: seconds(content.validUntil),
    vct: typeUrls(content.issuerUrl, content.definition).vct,
    sub: content.holderDid,
    cnf: { jwk: publicJwkOfDidKey(content.holderDid) },
    status: { status_list: { idx: content.statusListIndex, uri: tokenListUrl(content.issuerUrl, content.statusListId) } },
    ...content.claims,
  };
  return instance.issue(
    payload,
    // Subject claim names are not among the payload type's known keys, hence the cast.
    { _sd: claimNames, _sd_decoy: Math.max(0, digestsPerCredential - claimNames.length) } as DisclosureFrame<SdJwtVcPayload>,
    { header: { kid: verificationMethodId(content.issuerDid, key.kid) } },
  );
}
