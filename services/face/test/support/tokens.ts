// Access and service tokens signed with the real auth process's signing key
// (the testkit's createAuthTokenSigner), so face verifies them against the keys
// auth publishes (GetJwks), exactly as in production.
import { createAuthTokenSigner } from "@trustmesh/testkit";

export interface TokenMinter {
  /** A user access token; roles ["admin"] makes an admin. */
  user(userId: string, roles?: string[]): Promise<string>;
  /** A service token of `serviceName`, addressed to face unless said otherwise. */
  service(serviceName: string, audience?: string): Promise<string>;
}

export async function createTokenMinter(authDatabaseUrl: string, keys: { ring: string; activeId: string }): Promise<TokenMinter> {
  const sign = await createAuthTokenSigner(authDatabaseUrl, keys);
  return {
    user: (userId, roles = []) => sign({ token_kind: "user", roles }, userId, "trustmesh"),
    // Service tokens carry a scope, as IssueServiceToken's do; the runtime admits none without one.
    service: (serviceName, audience = "face") =>
      sign({ token_kind: "service", scope: "trustmesh.face.v1.FaceService/*" }, serviceName, audience),
  };
}
