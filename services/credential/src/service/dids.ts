// CreateDid and ResolveDid.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import type { CredentialService } from "@trustmesh/api";
import { DidDocumentMetadataSchema, KeyCustody } from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { CreateDidRequestSchema } from "@trustmesh/api/trustmesh/credential/v1/credential_service_pb.js";
import { alreadyExists, DomainError, invalidArgument, requestHashOf, requireUserId } from "@trustmesh/runtime";
import { DidKeyError, didKeyDocument } from "../did-key.ts";
import { issuerDidDocument } from "../did-web.ts";
import { createCustodialHolderDid, didOfKeyProof } from "../holder-keys.ts";
import { type CredentialServiceDependencies, sameHash } from "./dependencies.ts";
import { toDidMessage } from "./messages.ts";

type Handlers = Pick<ServiceImpl<typeof CredentialService>, "createDid" | "resolveDid">;

/** The issuer's DID document and its metadata (created: first key; updated: last rotation). */
export async function issuerDocument(dependencies: CredentialServiceDependencies) {
  const keys = await dependencies.issuerKeys.allKeys();
  const document = issuerDidDocument(dependencies.issuerDid, keys);
  const oldest = keys.at(-1)?.createdAt;
  const newest = keys[0]?.createdAt;
  return { document, created: oldest, updated: keys.length > 1 ? newest : undefined };
}

export function createDidHandlers(dependencies: CredentialServiceDependencies): Handlers {
  const now = dependencies.now ?? (() => new Date());
  return {
    async createDid(request, context) {
      const userId = requireUserId(context);
      const requestHash = requestHashOf(CreateDidRequestSchema, request);
      const walletAddress = request.walletAddress === "" ? null : request.walletAddress;
      const outcome = await dependencies.store.createDid({
        userId,
        primary: request.primary,
        idempotencyScope: `user:${userId}`,
        idempotencyKey: request.idempotencyKey,
        requestHash,
        async prepare() {
          if (request.keyCustody === KeyCustody.SERVICE) return createCustodialHolderDid(dependencies.sealer, walletAddress);
          const did = await didOfKeyProof(request.keyProofJwt, { issuerDid: dependencies.issuerDid, userId, now: now() });
          return { did, keyCustody: "HOLDER", privateKeySealed: null, walletAddress };
        },
      });
      if (outcome.outcome === "taken") throw alreadyExists("this key's did:key is registered already", "DID_TAKEN");
      if (outcome.outcome === "replayed" && !sameHash(outcome.did.requestHash, requestHash)) {
        throw alreadyExists("idempotency_key was used before with a different request", "IDEMPOTENCY_KEY_REUSED");
      }
      if (outcome.outcome === "created") {
        dependencies.metrics.didsCreated.inc({ custody: outcome.did.keyCustody === "SERVICE" ? "service" : "holder" });
      }
      return { did: toDidMessage(outcome.did), didDocumentJson: JSON.stringify(didKeyDocument(outcome.did.did)) };
    },

    async resolveDid(request) {
      if (request.did.startsWith("did:key:")) {
        try {
          return { didDocumentJson: JSON.stringify(didKeyDocument(request.did)), documentMetadata: create(DidDocumentMetadataSchema) };
        } catch (error) {
          if (error instanceof DidKeyError) throw invalidArgument("did", error.message, "DID_UNSUPPORTED");
          throw error;
        }
      }
      if (request.did !== dependencies.issuerDid) {
        // Never fetched: resolving a stranger's did:web would let callers make this service call any host.
        throw new DomainError(Code.NotFound, `did: ${request.did} is not this issuer's DID, and other did:web DIDs are not resolved`, {
          reason: "DID_NOT_FOUND",
          metadata: { did: request.did },
        });
      }
      const { document, created, updated } = await issuerDocument(dependencies);
      return {
        didDocumentJson: JSON.stringify(document),
        documentMetadata: create(DidDocumentMetadataSchema, {
          created: created ? timestampFromDate(created) : undefined,
          updated: updated ? timestampFromDate(updated) : undefined,
        }),
      };
    },
  };
}
