// VerifyCredential and VerifyPresentation: public, since verifiers are third
// parties. A credential that fails is not an error: the answer says which check
// failed and why.

import type { JsonObject } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { CredentialService } from "@trustmesh/api";
import {
  VerificationCheckSchema,
  VerificationFailure,
  VerifiedCredentialSchema,
} from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import type { VerificationOutcome } from "../verification.ts";
import type { CredentialServiceDependencies } from "./dependencies.ts";

type Handlers = Pick<ServiceImpl<typeof CredentialService>, "verifyCredential" | "verifyPresentation">;

/** Five minutes, the contract's default for max_key_binding_age. */
const defaultKeyBindingAgeMs = 5 * 60_000;

/** The metrics label of an outcome: "verified" or the failure, e.g. "revoked". */
export function outcomeLabel(failure: VerificationFailure): string {
  return failure === VerificationFailure.UNSPECIFIED ? "verified" : VerificationFailure[failure].toLowerCase();
}

function toResponse(outcome: VerificationOutcome) {
  const facts = outcome.credential;
  return {
    verified: outcome.verified,
    failure: outcome.failure,
    checks: outcome.checks.map((check) => create(VerificationCheckSchema, check)),
    credential: create(VerifiedCredentialSchema, {
      type: facts.type,
      typeUri: facts.typeUri,
      format: facts.format,
      issuerDid: facts.issuerDid,
      holderDid: facts.holderDid,
      validFrom: facts.validFrom ? timestampFromDate(facts.validFrom) : undefined,
      validUntil: facts.validUntil ? timestampFromDate(facts.validUntil) : undefined,
      status: facts.status,
      claims: facts.claims as JsonObject | undefined,
    }),
  };
}

export function createVerifyHandlers(dependencies: CredentialServiceDependencies): Handlers {
  return {
    async verifyCredential(request) {
      const outcome = await dependencies.verifier.verifyCredential(request.credential, request.format);
      dependencies.metrics.verifications.inc({ kind: "credential", outcome: outcomeLabel(outcome.failure) });
      return toResponse(outcome);
    },

    async verifyPresentation(request) {
      const maxAge = request.maxKeyBindingAge;
      const outcome = await dependencies.verifier.verifyPresentation(request.presentation, {
        nonce: request.nonce,
        audience: request.audience,
        requiredClaims: request.requiredClaims,
        maxKeyBindingAgeMs: maxAge ? Number(maxAge.seconds) * 1000 + Math.floor(maxAge.nanos / 1e6) : defaultKeyBindingAgeMs,
      });
      dependencies.metrics.verifications.inc({ kind: "presentation", outcome: outcomeLabel(outcome.failure) });
      return {
        ...toResponse(outcome),
        keyBindingIssuedAt: outcome.keyBindingIssuedAt ? timestampFromDate(outcome.keyBindingIssuedAt) : undefined,
      };
    },
  };
}
