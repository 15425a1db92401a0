// RevokeCredential, SuspendCredential and ReinstateCredential (admins): a
// status change is one transaction that updates the credential, records who and
// why, and moves its status list to a new version, which the next fetch of the
// list publishes.
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { CredentialService } from "@trustmesh/api";
import { failedPrecondition, notFound, requireUserId } from "@trustmesh/runtime";
import type { StatusAction } from "../store.ts";
import type { CredentialServiceDependencies } from "./dependencies.ts";
import { toCredentialMessage } from "./messages.ts";

type Handlers = Pick<ServiceImpl<typeof CredentialService>, "revokeCredential" | "suspendCredential" | "reinstateCredential">;

export function createStatusHandlers(dependencies: CredentialServiceDependencies): Handlers {
  const now = dependencies.now ?? (() => new Date());
  async function change(action: StatusAction, request: { credentialId: string; reason: string }, context: HandlerContext) {
    const actor = `user:${requireUserId(context)}`;
    const at = now();
    const outcome = await dependencies.store.changeStatus(request.credentialId, action, request.reason, actor, at);
    if (outcome.outcome === "not_found") throw notFound("credential", request.credentialId);
    if (outcome.outcome === "refused") {
      throw failedPrecondition(`credential ${request.credentialId} is revoked, and revocation is final`, "CREDENTIAL_REVOKED", {
        credential_id: request.credentialId,
      });
    }
    if (outcome.outcome === "changed") dependencies.metrics.statusChanges.inc({ action });
    return { credential: toCredentialMessage(outcome.credential, dependencies.issuerUrl, at) };
  }
  return {
    revokeCredential: (request, context) => change("revoke", request, context),
    suspendCredential: (request, context) => change("suspend", request, context),
    reinstateCredential: (request, context) => change("reinstate", request, context),
  };
}
