// What the outbox worker does with a ContactVerified event: asks credential
// to issue a verified-email or verified-phone credential for the account,
// over gRPC, with the event id as the idempotency key, so that delivering
// the event twice (at-least-once) still issues one credential.
//
// auth authenticates to credential with a service token it signs itself with
// its own signing key (it is the token issuer, so asking itself over the
// network would add nothing): subject "auth", audience "credential", scope
// exactly IssueCredential, whose rule admits the auth service (ADMIN +
// services ["auth"]).
import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { CredentialService } from "@trustmesh/api";
import { ContactKind, type ContactVerified, ContactVerifiedSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import type { IssueCredentialRequestSchema } from "@trustmesh/api/trustmesh/credential/v1/credential_service_pb.js";
import { createServiceClient, createServiceTokenProvider, type RpcMetrics } from "@trustmesh/runtime";
import type { ClaimedOutboxEvent } from "./store.ts";
import type { TokenSigner } from "./tokens.ts";

/** The one method auth's token for credential may call. */
export const issueCredentialScope = "trustmesh.credential.v1.CredentialService/IssueCredential";
/** The service name credential's rules admit, and the token's subject. */
export const authServiceName = "auth";
/** One IssueCredential call may take this long; the outbox lease is longer. */
export const issueCredentialTimeoutMs = 10_000;

/** The IssueCredential request for a ContactVerified event. */
export function issueCredentialRequestFor(event: ContactVerified): MessageInitShape<typeof IssueCredentialRequestSchema> {
  const common = { idempotencyKey: event.eventId, userId: event.userId };
  switch (event.kind) {
    case ContactKind.EMAIL:
      return { ...common, claims: { case: "email", value: { email: event.contact, verifiedAt: event.verifiedAt } } };
    case ContactKind.PHONE:
      return { ...common, claims: { case: "phone", value: { phoneNumber: event.contact, verifiedAt: event.verifiedAt } } };
    default:
      throw new Error(`ContactVerified event ${event.eventId} names no contact kind`);
  }
}

export type Deliver = (event: ClaimedOutboxEvent, signal: AbortSignal) => Promise<void>;

export function createCredentialDelivery(client: Client<typeof CredentialService>): Deliver {
  return async (event, signal) => {
    const contactVerified = fromBinary(ContactVerifiedSchema, event.payload);
    await client.issueCredential(issueCredentialRequestFor(contactVerified), { signal, timeoutMs: issueCredentialTimeoutMs });
  };
}

/** A CredentialService client that carries a self-signed service token scoped to IssueCredential. */
export function createCredentialClient(options: {
  baseUrl: string;
  signer: TokenSigner;
  metrics: RpcMetrics;
}): Client<typeof CredentialService> {
  const serviceToken = createServiceTokenProvider(async () => {
    const { token, expiresAt } = await options.signer.signServiceToken({
      clientId: authServiceName,
      audience: "credential",
      scopes: [issueCredentialScope],
    });
    return { token, expiresAtMs: expiresAt.getTime() };
  });
  return createServiceClient(CredentialService, {
    baseUrl: options.baseUrl,
    metrics: options.metrics,
    serviceToken,
    defaultTimeoutMs: issueCredentialTimeoutMs,
  });
}
