// A stand-in for auth's part payments relies on, in this workspace's own tests
// (test/e2e/payments.test.ts uses the real auth and its ResolveContact): the
// contact directory (a map the test fills), GetJwks with a test signing key,
// and IssueServiceToken. Used through createRouterTransport in handler tests
// and over real gRPC in process tests.

import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { AuthService } from "@trustmesh/api";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export interface AuthDouble {
  readonly impl: Partial<ServiceImpl<typeof AuthService>>;
  /** Verified addresses: "email:x@y", "phone:+1..." → user id; and active user ids. */
  readonly contacts: Map<string, string>;
  readonly users: Set<string>;
  /** Registers a user with a verified email (and phone). */
  addUser(userId: string, email?: string, phone?: string): void;
  /** An access token of a user, as auth would issue it. */
  userToken(userId: string, roles?: string[]): Promise<string>;
  readonly publicJwk: JWK;
  /** While set, ResolveContact answers UNAVAILABLE. */
  directoryDown: boolean;
}

export async function createAuthDouble(): Promise<AuthDouble> {
  const keys = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: "test-key", alg: "EdDSA", use: "sig" };
  const contacts = new Map<string, string>();
  const users = new Set<string>();
  const sign = (claims: Record<string, unknown>, subject: string, audience: string) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", kid: "test-key", typ: "at+jwt" })
      .setIssuer("trustmesh-auth")
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime("30m")
      .setJti(crypto.randomUUID())
      .sign(keys.privateKey);
  const double: AuthDouble = {
    contacts,
    users,
    publicJwk,
    directoryDown: false,
    addUser(userId, email, phone) {
      users.add(userId);
      if (email) contacts.set(`email:${email.toLowerCase()}`, userId);
      if (phone) contacts.set(`phone:${phone}`, userId);
    },
    userToken: (userId, roles = []) => sign({ token_kind: "user", roles, sid: crypto.randomUUID() }, userId, "trustmesh"),
    impl: {
      async resolveContact(request) {
        if (double.directoryDown) throw new ConnectError("directory down (injected)", Code.Unavailable);
        const contact = request.contact;
        const userId =
          contact.case === "userId"
            ? users.has(contact.value)
              ? contact.value
              : undefined
            : contact.case === "email"
              ? contacts.get(`email:${contact.value.toLowerCase()}`)
              : contact.case === "phone"
                ? contacts.get(`phone:${contact.value}`)
                : undefined;
        return { found: userId !== undefined, userId: userId ?? "" };
      },
      async getJwks() {
        return {
          keys: [{ kty: publicJwk.kty ?? "", crv: publicJwk.crv ?? "", x: publicJwk.x ?? "", kid: "test-key", alg: "EdDSA", use: "sig" }],
        };
      },
      async issueServiceToken(request) {
        return {
          accessToken: await sign({ token_kind: "service" }, request.clientId, request.audience),
          expiresAt: timestampFromDate(new Date(Date.now() + 30 * 60_000)),
          tokenType: "Bearer",
          scopes: [],
        };
      },
    },
  };
  return double;
}
