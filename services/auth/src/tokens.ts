// The tokens auth hands out: EdDSA access JWTs in the claim format the
// runtime's token verifier reads (token_kind, roles, sid; packages/runtime/src/
// auth/token-verifier.ts), service tokens with a scope claim, and opaque
// refresh and MFA tokens that are 256-bit random and stored only as SHA-256.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { AuthenticationMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { SignJWT } from "jose";
import type { ActiveSigningKey } from "./signing-keys.ts";

/** The audience of user access tokens, which every service accepts. */
export const userAudience = "trustmesh";

/**
 * RFC 8176 `amr` values for each way of authenticating. A recovery code has no
 * registered value; "rc" is ours. Two or more factors add "mfa".
 */
const amrValues: Record<AuthenticationMethod, string[]> = {
  [AuthenticationMethod.UNSPECIFIED]: [],
  [AuthenticationMethod.PASSWORD]: ["pwd"],
  [AuthenticationMethod.TOTP]: ["otp"],
  [AuthenticationMethod.RECOVERY_CODE]: ["rc"],
  [AuthenticationMethod.PASSKEY]: ["hwk", "user"],
};

export function amrOf(methods: readonly AuthenticationMethod[]): string[] {
  const values = methods.flatMap((method) => amrValues[method] ?? []);
  const factors = methods.filter((method) => method !== AuthenticationMethod.UNSPECIFIED).length;
  // A passkey with user verification is two factors by itself.
  if (factors >= 2 || methods.includes(AuthenticationMethod.PASSKEY)) values.push("mfa");
  return [...new Set(values)];
}

/** 256 random bits, base64url: guessing one is hopeless, so a fast hash at rest is enough. */
export function opaqueToken(): string {
  return randomBytes(32).toString("base64url");
}

export function tokenHash(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

export interface TokenSigner {
  signAccessToken(claims: {
    userId: string;
    sessionId: string;
    roles: readonly string[];
    methods: readonly AuthenticationMethod[];
  }): Promise<{ token: string; expiresAt: Date }>;
  signServiceToken(claims: { clientId: string; audience: string; scopes: readonly string[] }): Promise<{ token: string; expiresAt: Date }>;
}

export function createTokenSigner(options: {
  key: ActiveSigningKey;
  issuer: string;
  accessTokenTtlSeconds: number;
  serviceTokenTtlSeconds: number;
}): TokenSigner {
  const sign = async (payload: Record<string, unknown>, subject: string, audience: string, ttlSeconds: number) => {
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAtSeconds = issuedAt + ttlSeconds;
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: "EdDSA", kid: options.key.kid, typ: "at+jwt" })
      .setIssuer(options.issuer)
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAtSeconds)
      .setJti(randomUUID())
      .sign(options.key.privateKey);
    return { token, expiresAt: new Date(expiresAtSeconds * 1000) };
  };
  return {
    signAccessToken: (claims) =>
      sign(
        { token_kind: "user", sid: claims.sessionId, roles: [...claims.roles], amr: amrOf(claims.methods) },
        claims.userId,
        userAudience,
        options.accessTokenTtlSeconds,
      ),
    signServiceToken: (claims) =>
      sign({ token_kind: "service", scope: claims.scopes.join(" ") }, claims.clientId, claims.audience, options.serviceTokenTtlSeconds),
  };
}
