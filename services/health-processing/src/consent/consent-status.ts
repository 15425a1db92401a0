// A user's consent state, derived from the append-only history: for each type,
// the latest record decides whether it is granted, and the latest grant gives its
// version. Processing needs four of the five; data retention only decides how
// long results are kept.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ConsentAction,
  type ConsentStatus,
  ConsentStatusSchema,
  ConsentType,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";

export const allConsentTypes: readonly ConsentType[] = [
  ConsentType.TERMS_OF_SERVICE,
  ConsentType.PRIVACY_POLICY,
  ConsentType.MEDICAL_DATA_PROCESSING,
  ConsentType.AUTOMATED_INTERPRETATION,
  ConsentType.DATA_RETENTION,
];

export const consentsRequiredForProcessing: ReadonlySet<ConsentType> = new Set([
  ConsentType.TERMS_OF_SERVICE,
  ConsentType.PRIVACY_POLICY,
  ConsentType.MEDICAL_DATA_PROCESSING,
  ConsentType.AUTOMATED_INTERPRETATION,
]);

/** The version of each consent text the service currently requires. */
export type RequiredConsentVersions = ReadonlyMap<ConsentType, string>;

export interface ConsentHistoryEntry {
  type: ConsentType;
  action: ConsentAction;
  version: string;
  recordedAt: Date;
}

/** Names as they appear in errors and in ErrorInfo metadata: "MEDICAL_DATA_PROCESSING". */
export function consentTypeName(type: ConsentType): string {
  return ConsentType[type] ?? String(type);
}

/**
 * `latest` holds the newest record of each type, `latestGrants` the newest grant
 * of each type (the two differ when the newest record is a withdrawal).
 */
export function deriveConsentStatus(
  latest: readonly ConsentHistoryEntry[],
  latestGrants: readonly ConsentHistoryEntry[],
  required: RequiredConsentVersions,
): ConsentStatus {
  const missing: ConsentType[] = [];
  const consents = allConsentTypes.map((type) => {
    const newest = latest.find((entry) => entry.type === type);
    const grant = latestGrants.find((entry) => entry.type === type);
    const granted = newest?.action === ConsentAction.GRANTED;
    const requiredVersion = required.get(type) ?? "";
    const upToDate = granted && grant?.version === requiredVersion;
    const requiredForProcessing = consentsRequiredForProcessing.has(type);
    if (requiredForProcessing && !upToDate) missing.push(type);
    return {
      type,
      granted,
      grantedVersion: grant?.version ?? "",
      ...(grant ? { grantedAt: timestampFromDate(grant.recordedAt) } : {}),
      ...(newest?.action === ConsentAction.WITHDRAWN ? { withdrawnAt: timestampFromDate(newest.recordedAt) } : {}),
      requiredVersion,
      upToDate,
      requiredForProcessing,
    };
  });
  return create(ConsentStatusSchema, { consents, processingAllowed: missing.length === 0, missingForProcessing: missing });
}
