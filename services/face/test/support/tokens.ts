// Access and service tokens signed with the real auth process's signing key,
// shaped as in test/e2e/platform.test.ts: the key is read from auth's database
// and opened with the key ring the test gave auth, so face verifies the tokens
// against the keys auth publishes (GetJwks), exactly as in production.
import { createSealer, parseKeyRing } from "@trustmesh/runtime";
import { importPKCS8, SignJWT } from "jose";
import pg from "pg";

export interface TokenMinter {
  /** A user access token; roles ["admin"] makes an admin. */
  user(userId: string, roles?: string[]): Promise<string>;
  /** A service token of `serviceName`, addressed to face unless said otherwise. */
  service(serviceName: string, audience?: string): Promise<string>;
}

export async function createTokenMinter(authDatabaseUrl: string, keys: { ring: string; activeId: string }): Promise<TokenMinter> {
  const client = new pg.Client({ connectionString: authDatabaseUrl });
  await client.connect();
  let row: { kid: string; private_key_sealed: Buffer } | undefined;
  try {
    row = (await client.query("SELECT kid, private_key_sealed FROM signing_key WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1"))
      .rows[0];
  } finally {
    await client.end();
  }
  if (!row) throw new Error("auth has no active signing key");
  const sealer = createSealer(parseKeyRing(keys.ring), keys.activeId);
  const privateKey = await importPKCS8(sealer.open(row.private_key_sealed, row.kid).toString("utf8"), "EdDSA");
  const kid = row.kid;
  const sign = (claims: Record<string, unknown>, subject: string, audience: string) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", kid, typ: "at+jwt" })
      .setIssuer("trustmesh-auth")
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime("10m")
      .setJti(crypto.randomUUID())
      .sign(privateKey);
  return {
    user: (userId, roles = []) => sign({ token_kind: "user", roles }, userId, "trustmesh"),
    // Service tokens carry a scope, as IssueServiceToken's do; the runtime admits none without one.
    service: (serviceName, audience = "face") =>
      sign({ token_kind: "service", scope: "trustmesh.face.v1.FaceService/*" }, serviceName, audience),
  };
}
