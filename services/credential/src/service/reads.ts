// GetCredential and ListCredentials: the holder and admins only. Anyone else
// gets NOT_FOUND or an empty list, exactly as for something that does not
// exist, so the answer reveals nothing about other users' credentials.
import type { ServiceImpl } from "@connectrpc/connect";
import type { CredentialService } from "@trustmesh/api";
import { CredentialFormat, CredentialStatus } from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { invalidArgument, isAdmin, notFound, requireUserId } from "@trustmesh/runtime";
import { credentialTypeOfProto } from "../credential-types.ts";
import type { CredentialFilterStatus, CredentialQuery } from "../store.ts";
import { type CredentialServiceDependencies, callerOf } from "./dependencies.ts";
import { toCredentialMessage } from "./messages.ts";

type Handlers = Pick<ServiceImpl<typeof CredentialService>, "getCredential" | "listCredentials">;

const defaultPageSize = 20;

const statusFilters: Partial<Record<CredentialStatus, CredentialFilterStatus>> = {
  [CredentialStatus.ACTIVE]: "ACTIVE",
  [CredentialStatus.SUSPENDED]: "SUSPENDED",
  [CredentialStatus.REVOKED]: "REVOKED",
  [CredentialStatus.EXPIRED]: "EXPIRED",
};

interface Cursor {
  issuedAt: Date;
  id: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ t: cursor.issuedAt.toISOString(), i: cursor.id })).toString("base64url");
}

/** Parses a page token strictly: it comes from outside, so nothing in it is trusted until checked. */
function decodeCursor(token: string): Cursor {
  const refuse = () => invalidArgument("page_token", "is not a page token this service issued", "PAGE_TOKEN_INVALID");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw refuse();
  }
  const { t, i } = (parsed ?? {}) as { t?: unknown; i?: unknown };
  if (typeof t !== "string" || typeof i !== "string" || !/^[0-9a-f-]{36}$/.test(i)) throw refuse();
  const issuedAt = new Date(t);
  if (Number.isNaN(issuedAt.getTime())) throw refuse();
  return { issuedAt, id: i };
}

export function createReadHandlers(dependencies: CredentialServiceDependencies): Handlers {
  const now = dependencies.now ?? (() => new Date());
  return {
    async getCredential(request, context) {
      const userId = requireUserId(context);
      const stored = await dependencies.store.credential(request.credentialId);
      if (!stored || (stored.userId !== userId && !isAdmin(callerOf(context)))) throw notFound("credential", request.credentialId);
      return { credential: toCredentialMessage(stored, dependencies.issuerUrl, now()) };
    },

    async listCredentials(request, context) {
      const userId = requireUserId(context);
      const admin = isAdmin(callerOf(context));
      const pageSize = request.pageSize === 0 ? defaultPageSize : request.pageSize;
      const query: CredentialQuery = { now: now(), limit: pageSize + 1 };
      if (request.pageToken !== "") query.after = decodeCursor(request.pageToken);
      switch (request.holder.case) {
        case "userId":
          // Another user's id gets what an unknown id gets: nothing.
          if (!admin && request.holder.value !== userId) return { credentials: [], nextPageToken: "" };
          query.userId = request.holder.value;
          break;
        case "holderDid":
          query.holderDid = request.holder.value;
          if (!admin) query.userId = userId;
          break;
        case "walletAddress":
          query.walletAddress = request.holder.value;
          if (!admin) query.userId = userId;
          break;
        default:
          query.userId = userId;
      }
      if (request.type !== 0) query.kind = credentialTypeOfProto(request.type)?.kind;
      if (request.format !== CredentialFormat.UNSPECIFIED)
        query.encoding = request.format === CredentialFormat.VC_JWT ? "VC_JWT" : "SD_JWT_VC";
      query.status = statusFilters[request.status];
      const rows = await dependencies.store.listCredentials(query);
      const page = rows.slice(0, pageSize);
      const last = page.at(-1);
      return {
        credentials: page.map((row) => toCredentialMessage(row, dependencies.issuerUrl, query.now)),
        nextPageToken: rows.length > pageSize && last ? encodeCursor(last) : "",
      };
    },
  };
}
