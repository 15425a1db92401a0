// Who owns an address: payments asks auth, which alone knows users' verified
// emails and phones, through its service-only ResolveContact RPC
// (proto/trustmesh/auth/v1/auth_service.proto). The interface is what the
// handlers take, so tests can pass a double.
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { AuthService } from "@trustmesh/api";
import { DomainError } from "@trustmesh/runtime";

export type ContactAddress = { kind: "USER_ID" | "EMAIL" | "PHONE"; address: string };

export interface ContactDirectory {
  /**
   * The user id owning the address, or undefined when nobody does: for email
   * and phone only a verified address resolves; a user id resolves while its
   * account is active.
   */
  resolve(contact: ContactAddress): Promise<string | undefined>;
}

/** Emails are matched case-insensitively; the address stored is lower case. */
export function normaliseContact(contact: ContactAddress): ContactAddress {
  return contact.kind === "EMAIL" ? { kind: "EMAIL", address: contact.address.toLowerCase() } : contact;
}

export function createGrpcContactDirectory(client: Client<typeof AuthService>): ContactDirectory {
  return {
    async resolve(contact) {
      const request =
        contact.kind === "EMAIL"
          ? { contact: { case: "email" as const, value: contact.address } }
          : contact.kind === "PHONE"
            ? { contact: { case: "phone" as const, value: contact.address } }
            : { contact: { case: "userId" as const, value: contact.address } };
      try {
        const response = await client.resolveContact(request);
        return response.found ? response.userId : undefined;
      } catch (error) {
        // Without an answer payments cannot tell a user from a stranger, so the
        // caller is told to retry rather than getting a claimable payment by mistake.
        const code = error instanceof ConnectError ? error.code : Code.Unknown;
        throw new DomainError(Code.Unavailable, "the account directory (auth) did not answer; try again", {
          reason: "DIRECTORY_UNAVAILABLE",
          metadata: { upstream_code: Code[code] ?? "UNKNOWN" },
          cause: error,
        });
      }
    },
  };
}
