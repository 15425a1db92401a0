// Stored rows to the contract's messages.

import type { JsonObject } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Credential,
  CredentialFormat,
  CredentialSchema,
  CredentialStatus,
  type Did,
  DidMethod,
  DidSchema,
  KeyCustody,
  StatusListType,
  StatusPurpose,
} from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { credentialTypeOfKind } from "../credential-types.ts";
import { verificationMethodId } from "../did-web.ts";
import type { CredentialEncoding, CredentialState } from "../generated/prisma/enums.ts";
import { bitstringPurposes } from "../status-list-encoding.ts";
import { bitstringListUrl, tokenListUrl } from "../status-list-urls.ts";
import type { StoredCredential, StoredHolderDid } from "../store.ts";

export function formatOf(encoding: CredentialEncoding): CredentialFormat {
  return encoding === "VC_JWT" ? CredentialFormat.VC_JWT : CredentialFormat.SD_JWT_VC;
}

/** The standing a holder sees: revocation is final, expiry next, then suspension. */
export function derivedStatus(state: CredentialState, validUntil: Date, now: Date): CredentialStatus {
  if (state === "REVOKED") return CredentialStatus.REVOKED;
  if (validUntil.getTime() <= now.getTime()) return CredentialStatus.EXPIRED;
  return state === "SUSPENDED" ? CredentialStatus.SUSPENDED : CredentialStatus.ACTIVE;
}

export function toCredentialMessage(stored: StoredCredential, issuerUrl: string, now: Date): Credential {
  const statusListEntries =
    stored.encoding === "VC_JWT"
      ? bitstringPurposes.map((purpose) => ({
          type: StatusListType.BITSTRING,
          uri: bitstringListUrl(issuerUrl, stored.statusListId, purpose),
          index: stored.statusListIndex,
          purpose: purpose === "revocation" ? StatusPurpose.REVOCATION : StatusPurpose.SUSPENSION,
        }))
      : [
          {
            type: StatusListType.TOKEN,
            uri: tokenListUrl(issuerUrl, stored.statusListId),
            index: stored.statusListIndex,
            purpose: StatusPurpose.REVOCATION_AND_SUSPENSION,
          },
        ];
  return create(CredentialSchema, {
    id: stored.id,
    userId: stored.userId,
    holderDid: stored.holderDid,
    issuerDid: stored.issuerDid,
    issuerKeyId: verificationMethodId(stored.issuerDid, stored.issuerKeyId),
    type: credentialTypeOfKind(stored.kind).type,
    format: formatOf(stored.encoding),
    status: derivedStatus(stored.state, stored.validUntil, now),
    claims: stored.claims as JsonObject,
    encoded: stored.encoded,
    validFrom: timestampFromDate(stored.validFrom),
    validUntil: timestampFromDate(stored.validUntil),
    statusListEntries,
    statusReason: stored.statusReason ?? "",
    statusChangedAt: stored.statusChangedAt ? timestampFromDate(stored.statusChangedAt) : undefined,
    issuedAt: timestampFromDate(stored.issuedAt),
  });
}

export function toDidMessage(stored: StoredHolderDid): Did {
  return create(DidSchema, {
    did: stored.did,
    method: DidMethod.KEY,
    userId: stored.userId,
    keyCustody: stored.keyCustody === "SERVICE" ? KeyCustody.SERVICE : KeyCustody.HOLDER,
    walletAddress: stored.walletAddress ?? "",
    primary: stored.primary,
    createdAt: timestampFromDate(stored.createdAt),
  });
}
