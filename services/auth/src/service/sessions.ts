// Logout, ListSessions, RevokeSession: a user's view of their signed-in
// devices. Revocation is written to Postgres, then to the session cache, so
// auth refuses the session's access tokens at once; other services stop
// accepting them when they expire (AUTH_ACCESS_TOKEN_TTL_SECONDS).
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { LogoutScope, type SessionSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import type {
  ListSessionsRequest,
  ListSessionsResponseSchema,
  LogoutRequest,
  LogoutResponseSchema,
  RevokeSessionRequest,
  RevokeSessionResponseSchema,
} from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { invalidArgument, notFound } from "@trustmesh/runtime";
import type { AuthSession } from "../store.ts";
import { clientOf, requireSession } from "./common.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";
import { methodsFromNames } from "./sign-in.ts";

const pageSizeDefault = 20;

export function toSession(session: AuthSession, currentSessionId: string): MessageInitShape<typeof SessionSchema> {
  return {
    id: session.id,
    device: {
      name: session.deviceName,
      userAgent: session.userAgent,
      ipAddress: session.ipAddress,
      lastIpAddress: session.lastIpAddress,
    },
    authenticationMethods: methodsFromNames(session.authenticationMethods),
    createdAt: timestampFromDate(session.createdAt),
    lastSeenAt: timestampFromDate(session.lastSeenAt),
    expiresAt: timestampFromDate(session.expiresAt),
    current: session.id === currentSessionId,
  };
}

async function endSessions(
  dependencies: AuthServiceDependencies,
  context: HandlerContext,
  input: { userId: string; only?: string; except?: string; reason: string },
): Promise<string[]> {
  const client = clientOf(dependencies, context);
  const revoked = await dependencies.store.revokeSessions({
    ...input,
    audit: { ipAddress: client.ipAddress, userAgent: client.userAgent },
  });
  await dependencies.sessions.markRevoked(revoked);
  return revoked;
}

export async function logout(
  dependencies: AuthServiceDependencies,
  request: LogoutRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof LogoutResponseSchema>> {
  const { userId, sessionId } = await requireSession(dependencies, context);
  const scope = request.scope === LogoutScope.UNSPECIFIED ? LogoutScope.CURRENT : request.scope;
  const selection = scope === LogoutScope.ALL ? {} : scope === LogoutScope.OTHERS ? { except: sessionId } : { only: sessionId };
  const revoked = await endSessions(dependencies, context, { userId, ...selection, reason: `logout_${LogoutScope[scope].toLowerCase()}` });
  return { revokedSessionCount: revoked.length };
}

/** Page tokens are the last row's sort key, base64url JSON; parsed defensively because clients hand them back. */
function parsePageToken(token: string): { lastSeenAt: Date; id: string } | undefined {
  if (token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { t?: unknown; id?: unknown };
    if (typeof parsed.t === "number" && Number.isFinite(parsed.t) && typeof parsed.id === "string" && /^[0-9a-f-]{36}$/.test(parsed.id)) {
      return { lastSeenAt: new Date(parsed.t), id: parsed.id };
    }
  } catch {
    // Falls through to the error below.
  }
  throw invalidArgument("page_token", "is not a token from a previous ListSessions response");
}

export async function listSessions(
  dependencies: AuthServiceDependencies,
  request: ListSessionsRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof ListSessionsResponseSchema>> {
  const { userId, sessionId } = await requireSession(dependencies, context);
  const after = parsePageToken(request.pageToken);
  const pageSize = request.pageSize === 0 ? pageSizeDefault : request.pageSize;
  const rows = await dependencies.store.listActiveSessions(userId, pageSize + 1, after);
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  const nextPageToken =
    rows.length > pageSize && last ? Buffer.from(JSON.stringify({ t: last.lastSeenAt.getTime(), id: last.id })).toString("base64url") : "";
  return { sessions: page.map((session) => toSession(session, sessionId)), nextPageToken };
}

export async function revokeSession(
  dependencies: AuthServiceDependencies,
  request: RevokeSessionRequest,
  context: HandlerContext,
): Promise<MessageInitShape<typeof RevokeSessionResponseSchema>> {
  const { userId } = await requireSession(dependencies, context);
  const revoked = await endSessions(dependencies, context, { userId, only: request.sessionId, reason: "revoked_by_user" });
  if (revoked.length > 0) return { revoked: true };
  // Nothing ended: already ended (harmless retry), or not the caller's (answered like an unknown id).
  const session = await dependencies.store.findSession(request.sessionId);
  if (!session || session.userId !== userId) throw notFound("session", request.sessionId);
  return { revoked: false };
}
