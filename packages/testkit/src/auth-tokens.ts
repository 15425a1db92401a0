// Tokens signed with the real auth process's signing key: the key is read from
// auth's database and opened with the key ring the test gave auth, so a service
// verifies them against the keys auth publishes (GetJwks), as in production.
// Tests mint tokens this way rather than through sign-in so that one test can
// speak for any user, role or calling service without setting up accounts.
import { createSealer, parseKeyRing } from "@trustmesh/runtime";
import { importPKCS8, SignJWT } from "jose";
import pg from "pg";

/** Signs `claims` as auth signs an access token (EdDSA, typ at+jwt, ten minutes). */
export type AuthTokenSigner = (claims: Record<string, unknown>, subject: string, audience: string) => Promise<string>;

export async function createAuthTokenSigner(
  authDatabaseUrl: string,
  keyEncryptionKeys: { ring: string; activeId: string },
): Promise<AuthTokenSigner> {
  const client = new pg.Client({ connectionString: authDatabaseUrl });
  await client.connect();
  let row: { kid: string; private_key_sealed: Buffer } | undefined;
  try {
    const result = await client.query<{ kid: string; private_key_sealed: Buffer }>(
      "SELECT kid, private_key_sealed FROM signing_key WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1",
    );
    row = result.rows[0];
  } finally {
    await client.end();
  }
  if (!row) throw new Error("auth has no active signing key");
  const { kid } = row;
  const sealer = createSealer(parseKeyRing(keyEncryptionKeys.ring), keyEncryptionKeys.activeId);
  const privateKey = await importPKCS8(sealer.open(row.private_key_sealed, kid).toString("utf8"), "EdDSA");
  return (claims, subject, audience) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", kid, typ: "at+jwt" })
      .setIssuer("trustmesh-auth")
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime("10m")
      .setJti(crypto.randomUUID())
      .sign(privateKey);
}
