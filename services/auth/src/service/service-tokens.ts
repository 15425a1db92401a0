// IssueServiceToken: the client-credentials grant for internal services.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type { IssueServiceTokenRequest, IssueServiceTokenResponseSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { permissionDenied, unauthenticated } from "@trustmesh/runtime";
import { scopesFor, verifyClientSecret } from "../service-clients.ts";
import { clientOf } from "./common.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";

export async function issueServiceToken(
  dependencies: AuthServiceDependencies,
  request: IssueServiceTokenRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof IssueServiceTokenResponseSchema>> {
  const { config, store, metrics } = dependencies;
  const client = clientOf(dependencies, context);
  await dependencies.rateLimits.consume(client.ipAddress, [`client:${request.clientId}`]);
  const audit = {
    ipAddress: client.ipAddress,
    userAgent: client.userAgent,
    detail: { client_id: request.clientId, audience: request.audience },
  };
  if (!(await verifyClientSecret(config.AUTH_SERVICE_CLIENTS, request.clientId, request.clientSecret))) {
    metrics.serviceTokens.inc({ outcome: "refused" });
    await store.audit({ ...audit, kind: "service_token_refused" });
    throw unauthenticated("client_id or client_secret is wrong", "INVALID_CLIENT");
  }
  const scopes = scopesFor(config.AUTH_SERVICE_CLIENTS, request.clientId, request.audience);
  if (scopes.length === 0) {
    metrics.serviceTokens.inc({ outcome: "out_of_scope" });
    throw permissionDenied(`client ${request.clientId} may call nothing on ${request.audience}`, "OUT_OF_SCOPE");
  }
  const signed = await dependencies.signer.signServiceToken({ clientId: request.clientId, audience: request.audience, scopes });
  metrics.serviceTokens.inc({ outcome: "issued" });
  await store.audit({ ...audit, kind: "service_token_issued" });
  return { accessToken: signed.token, expiresAt: timestampFromDate(signed.expiresAt), tokenType: "Bearer", scopes };
}
