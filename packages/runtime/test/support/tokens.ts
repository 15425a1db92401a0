// Real EdDSA keys and JWTs for tests, shaped like the tokens auth issues, with
// the JWKS served over HTTP so the verifier's remote fetch and kid rotation run
// for real.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export interface TestKey {
  kid: string;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  publicJwk: JWK;
}

export async function createTestKey(kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" } };
}

export interface TokenClaims {
  subject: string;
  kind: "user" | "service";
  roles?: string[];
  expiresInSeconds?: number;
  issuer?: string;
  /** Defaults to "trustmesh" for users; service tokens name their target service. */
  audience?: string;
  /** Service tokens: the methods they may call; the whole EchoService by default. */
  scopes?: string[];
}

export function signToken(key: TestKey, claims: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const scope = claims.kind === "service" ? { scope: (claims.scopes ?? ["trustmesh.testing.v1.EchoService/*"]).join(" ") } : {};
  return new SignJWT({ token_kind: claims.kind, roles: claims.roles ?? [], ...scope })
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "at+jwt" })
    .setIssuer(claims.issuer ?? "trustmesh-auth")
    .setAudience(claims.audience ?? (claims.kind === "user" ? "trustmesh" : "echo"))
    .setSubject(claims.subject)
    .setIssuedAt(now - 5)
    .setExpirationTime(now + (claims.expiresInSeconds ?? 300))
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);
}

export interface JwksServer {
  url: string;
  /** Replaces the published keys, as auth does when it rotates. */
  publish(keys: TestKey[]): void;
  fetches(): number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: TestKey[]): Promise<JwksServer> {
  let published = keys;
  let fetchCount = 0;
  const server = http.createServer((_, response) => {
    fetchCount++;
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: published.map((key) => key.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    publish(next) {
      published = next;
    },
    fetches: () => fetchCount,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
