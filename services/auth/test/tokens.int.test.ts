// Goal: auth refuses every token it did not mint for this purpose — another
// issuer, `alg: none`, HS256 keyed with the public key, an expired one, one of
// a revoked session — while a token signed with its real key and claims is
// accepted (so the refusals are about the flaw, not the forging). Also:
// IssueServiceToken mints scoped service tokens for configured clients only,
// and /.well-known/jwks.json serves the same keys as GetJwks.
import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { createSealer, parseKeyRing } from "@trustmesh/runtime";
import { createLocalJWKSet, decodeJwt, jwtVerify, SignJWT } from "jose";
import { hashClientSecret } from "../src/service-clients.ts";
import {
  type AuthHarness,
  bearer,
  type Infrastructure,
  rejectsWith,
  relaxedLimits,
  signedInUser,
  startAuth,
  startInfrastructure,
} from "./support/auth-harness.ts";

const clientSecret = "a-long-random-secret-for-payments-0123456789";

describe("auth: tokens", function () {
  this.timeout(120_000);
  let infrastructure: Infrastructure;
  let auth: AuthHarness;
  let signingKey: { kid: string; privateKey: ReturnType<typeof createPrivateKey>; x: string };

  before(async () => {
    infrastructure = await startInfrastructure();
    auth = await startAuth(infrastructure, {
      ...relaxedLimits,
      AUTH_SERVICE_CLIENTS: JSON.stringify({
        payments: {
          secretHash: await hashClientSecret(clientSecret),
          scopes: ["trustmesh.ledger.v1.LedgerService/*", "trustmesh.auth.v1.AuthService/GetJwks"],
        },
      }),
    });
    const row = (await auth.database.query("SELECT kid, public_jwk, private_key_sealed FROM signing_key WHERE retired_at IS NULL")).rows[0];
    const sealer = createSealer(parseKeyRing(auth.keyEncryptionKeys.ring), auth.keyEncryptionKeys.activeId);
    signingKey = {
      kid: row.kid,
      privateKey: createPrivateKey(sealer.open(row.private_key_sealed, row.kid).toString("utf8")),
      x: row.public_jwk.x,
    };
  });

  after(async () => {
    await auth?.stop();
    await infrastructure?.stop();
  });

  function unsigned(header: object, payload: object): string {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    return `${part(header)}.${part(payload)}.`;
  }

  it("accepts its own token and refuses other issuers, alg none, HS256 with the public key, expired and revoked-session tokens", async () => {
    const { tokens } = await signedInUser(auth);
    const claims = decodeJwt(tokens.accessToken);
    assert.equal(claims.iss, "trustmesh-auth");
    assert.equal(claims.aud, "trustmesh");
    assert.equal(claims.token_kind, "user");
    assert.equal(claims.sid, tokens.sessionId);
    assert.deepEqual(claims.amr, ["pwd"]);
    assert.ok((claims.exp as number) - (claims.iat as number) <= 300);
    const now = Math.floor(Date.now() / 1000);
    const forge = (overrides: { issuer?: string; expiresAt?: number }) =>
      new SignJWT({ token_kind: "user", sid: tokens.sessionId, roles: [] })
        .setProtectedHeader({ alg: "EdDSA", kid: signingKey.kid })
        .setIssuer(overrides.issuer ?? "trustmesh-auth")
        .setAudience("trustmesh")
        .setSubject(claims.sub as string)
        .setIssuedAt(now - 60)
        .setExpirationTime(overrides.expiresAt ?? now + 120)
        .sign(signingKey.privateKey);

    // The control: real key, real claims.
    assert.equal((await auth.client.getMe({}, bearer(await forge({})))).user?.id, claims.sub);

    await rejectsWith(auth.client.getMe({}, bearer(await forge({ issuer: "someone-else" }))), Code.Unauthenticated, "TOKEN_INVALID");
    await rejectsWith(auth.client.getMe({}, bearer(await forge({ expiresAt: now - 10 }))), Code.Unauthenticated, "TOKEN_EXPIRED");
    const payload = { ...claims, exp: now + 120 };
    await rejectsWith(
      auth.client.getMe({}, bearer(unsigned({ alg: "none", kid: signingKey.kid }, payload))),
      Code.Unauthenticated,
      "TOKEN_INVALID",
    );
    const hs256 = await new SignJWT(payload)
      .setProtectedHeader({ alg: "HS256", kid: signingKey.kid })
      .sign(Buffer.from(signingKey.x, "base64url"));
    await rejectsWith(auth.client.getMe({}, bearer(hs256)), Code.Unauthenticated, "TOKEN_INVALID");

    // Revoked: the token itself is perfect, but its session has ended.
    await auth.client.logout({}, bearer(tokens.accessToken));
    await rejectsWith(auth.client.getMe({}, bearer(tokens.accessToken)), Code.Unauthenticated, "SESSION_ENDED");
    await rejectsWith(auth.client.getMe({}, bearer(await forge({}))), Code.Unauthenticated, "SESSION_ENDED");
  });

  it("issues a service token for a configured client, scoped to its methods on the audience", async () => {
    const issued = await auth.client.issueServiceToken({ clientId: "payments", clientSecret, audience: "ledger" });
    assert.deepEqual(issued.scopes, ["trustmesh.ledger.v1.LedgerService/*"]);
    assert.equal(issued.tokenType, "Bearer");
    const jwks = (await (await fetch(`${auth.httpUrl}/.well-known/jwks.json`)).json()) as Parameters<typeof createLocalJWKSet>[0];
    const { payload } = await jwtVerify(issued.accessToken, createLocalJWKSet(jwks), { issuer: "trustmesh-auth", audience: "ledger" });
    assert.equal(payload.sub, "payments");
    assert.equal(payload.token_kind, "service");
    assert.equal(payload.scope, "trustmesh.ledger.v1.LedgerService/*");
    assert.ok(Math.abs((payload.exp as number) * 1000 - Number(issued.expiresAt?.seconds) * 1000) < 1000);
  });

  it("refuses a wrong secret, an unknown client, an audience outside the client's scope, and malformed input", async () => {
    await rejectsWith(
      auth.client.issueServiceToken({ clientId: "payments", clientSecret: `${clientSecret}x`, audience: "ledger" }),
      Code.Unauthenticated,
      "INVALID_CLIENT",
    );
    await rejectsWith(
      auth.client.issueServiceToken({ clientId: "face", clientSecret, audience: "ledger" }),
      Code.Unauthenticated,
      "INVALID_CLIENT",
    );
    await rejectsWith(
      auth.client.issueServiceToken({ clientId: "payments", clientSecret, audience: "face" }),
      Code.PermissionDenied,
      "OUT_OF_SCOPE",
    );
    await rejectsWith(
      auth.client.issueServiceToken({ clientId: "payments", clientSecret: "short", audience: "ledger" }),
      Code.InvalidArgument,
    );
    await rejectsWith(auth.client.issueServiceToken({ clientId: "payments", clientSecret, audience: "elsewhere" }), Code.InvalidArgument);
    const refused = await auth.database.query("SELECT count(*)::int AS n FROM audit_event WHERE kind = 'service_token_refused'");
    assert.equal(refused.rows[0]?.n, 2);
  });

  it("serves the JWK Set over HTTP with the keys GetJwks returns and a cache lifetime", async () => {
    const response = await fetch(`${auth.httpUrl}/.well-known/jwks.json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("cache-control") ?? "", /max-age=300/);
    const document = (await response.json()) as { keys: { kid: string; x: string }[] };
    const viaRpc = await auth.client.getJwks({});
    assert.deepEqual(
      document.keys.map((key) => [key.kid, key.x]),
      viaRpc.keys.map((key) => [key.kid, key.x]),
    );
    assert.equal(document.keys[0]?.kid, signingKey.kid);
    // Only GET and HEAD reach the route; anything else goes on to Connect, which knows no such procedure.
    assert.equal((await fetch(`${auth.httpUrl}/.well-known/jwks.json`, { method: "POST" })).status, 404);
    assert.equal((await fetch(`${auth.httpUrl}/.well-known/nothing`)).status, 404);
  });
});
