// IssueCredential: for admins and the auth service, whose outbox worker calls it
// once per ContactVerified event with the event id as the idempotency key.
// Delivered again, the same request returns the same credential; another
// request under the same key is refused.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { CredentialService } from "@trustmesh/api";
import { CredentialFormat } from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { IssueCredentialRequestSchema } from "@trustmesh/api/trustmesh/credential/v1/credential_service_pb.js";
import { alreadyExists, idempotencyScopeOf, notFound, requestHashOf } from "@trustmesh/runtime";
import { credentialTypeOfKind } from "../credential-types.ts";
import type { CredentialEncoding } from "../generated/prisma/enums.ts";
import { createCustodialHolderDid } from "../holder-keys.ts";
import { issueSdJwtVc } from "../sd-jwt-vc.ts";
import { subjectClaimsOf } from "../subject-claims.ts";
import { signVcJwt, vcJwtPayload } from "../vc-jwt.ts";
import { type CredentialServiceDependencies, callerOf, sameHash } from "./dependencies.ts";
import { toCredentialMessage } from "./messages.ts";

type Handlers = Pick<ServiceImpl<typeof CredentialService>, "issueCredential">;

const wholeSeconds = (date: Date) => new Date(Math.floor(date.getTime() / 1000) * 1000);

export function createIssuanceHandlers(dependencies: CredentialServiceDependencies): Handlers {
  const now = dependencies.now ?? (() => new Date());
  return {
    async issueCredential(request, context) {
      const caller = callerOf(context);
      // Whole seconds: JWT times (iat, nbf, exp) have no finer grain, and validFrom/validUntil must say the same.
      const issuedAt = wholeSeconds(now());
      const subject = subjectClaimsOf(request, issuedAt);
      const definition = credentialTypeOfKind(subject.kind);
      const encoding: CredentialEncoding =
        request.format === CredentialFormat.VC_JWT
          ? "VC_JWT"
          : request.format === CredentialFormat.SD_JWT_VC
            ? "SD_JWT_VC"
            : dependencies.defaultEncoding;
      const validUntil = wholeSeconds(
        request.validUntil ? timestampDate(request.validUntil) : new Date(issuedAt.getTime() + dependencies.validityMs),
      );
      const requestHash = requestHashOf(IssueCredentialRequestSchema, request);
      // Read before the transaction: signing inside it must not wait for a second pooled connection.
      const key = await dependencies.issuerKeys.signingKey();

      const outcome = await dependencies.store.issue({
        userId: request.userId,
        holderDid: request.holderDid === "" ? undefined : request.holderDid,
        kind: subject.kind,
        encoding,
        idempotencyScope: idempotencyScopeOf(caller),
        idempotencyKey: request.idempotencyKey,
        requestHash,
        statusListSize: dependencies.statusListSize,
        createHolder: () => createCustodialHolderDid(dependencies.sealer, null),
        async sign(slot) {
          const content = {
            id: slot.credentialId,
            issuerDid: dependencies.issuerDid,
            issuerUrl: dependencies.issuerUrl,
            holderDid: slot.holder.did,
            definition,
            claims: subject.claims,
            validFrom: issuedAt,
            validUntil,
            statusListId: slot.statusListId,
            statusListIndex: slot.statusListIndex,
          };
          const encoded =
            encoding === "VC_JWT" ? await signVcJwt(vcJwtPayload(content), dependencies.issuerDid, key) : await issueSdJwtVc(content, key);
          return {
            issuerDid: dependencies.issuerDid,
            issuerKeyId: key.kid,
            encoded,
            claims: subject.claims,
            validFrom: issuedAt,
            validUntil,
          };
        },
      });

      if (outcome.outcome === "holder_not_found") throw notFound("holder_did of this user", request.holderDid);
      if (outcome.outcome === "replayed") {
        if (!sameHash(outcome.credential.requestHash, requestHash)) {
          throw alreadyExists("idempotency_key was used before with a different request", "IDEMPOTENCY_KEY_REUSED");
        }
        return { credential: toCredentialMessage(outcome.credential, dependencies.issuerUrl, now()) };
      }
      dependencies.metrics.issued.inc({ type: definition.slug.replace("-", "_"), format: encoding.toLowerCase() });
      if (outcome.holderCreated) dependencies.metrics.didsCreated.inc({ custody: "service" });
      return { credential: toCredentialMessage(outcome.credential, dependencies.issuerUrl, now()) };
    },
  };
}
