// Verifies the EdDSA JWTs that auth issues, against auth's JWKS. Keys are
// fetched once and refetched when a token names an unknown kid (rotation), and
// each verified token is cached until it expires, because signature checks
// cost about 96 µs each and the same token arrives many times a minute.
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from "jose";
import { LRUCache } from "lru-cache";
import type { Principal } from "../context.ts";
import { unauthenticated } from "../errors.ts";

/** The claims Trustmesh tokens carry besides the registered ones. */
interface TrustmeshClaims extends JWTPayload {
  /** "user" for access tokens, "service" for service tokens. */
  token_kind?: unknown;
  roles?: unknown;
  /** Session id of a user token, so a revoked session can be recognised. */
  sid?: unknown;
  /** Service tokens: the methods they may call, space separated (RFC 9068 `scope`). */
  scope?: unknown;
}

export interface TokenVerifier {
  /** Resolves the principal, or throws an UNAUTHENTICATED DomainError. */
  verify(token: string): Promise<Principal>;
  /** The principal of a token verified before and not yet expired, without waiting. */
  cached(token: string): Principal | undefined;
}

export interface TokenVerifierOptions {
  /** Auth's JWKS document URL. Ignored when keys is given. */
  jwksUrl?: string;
  /** A key resolver, for tests and for auth itself, which holds its keys. */
  keys?: JWTVerifyGetKey;
  issuer: string;
  /**
   * This service's name. Service tokens are minted for one target service
   * (their aud), so a token meant for ledger is refused by face.
   */
  serviceName: string;
  /** Verified tokens kept in memory at most. */
  cacheMax?: number;
  /** Least time between two JWKS fetches triggered by unknown kids. */
  jwksCooldownMs?: number;
}

/** Longer tokens are refused unread: no legitimate token is anywhere near this. */
const tokenLengthMax = 8192;

/** The audience of user access tokens, which every service accepts. */
const userAudience = "trustmesh";

function audiences(claims: TrustmeshClaims): string[] {
  return typeof claims.aud === "string" ? [claims.aud] : (claims.aud ?? []);
}

function principalFrom(claims: TrustmeshClaims, serviceName: string): Principal {
  const subject = claims.sub;
  if (typeof subject !== "string" || subject === "") throw unauthenticated("token has no subject", "TOKEN_INVALID");
  const tokenId = typeof claims.jti === "string" ? claims.jti : undefined;
  if (claims.token_kind === "service") {
    if (!audiences(claims).includes(serviceName))
      throw unauthenticated(`service token is not addressed to ${serviceName}`, "TOKEN_WRONG_AUDIENCE");
    // Parsed once per token: verified principals are cached, so the per-call check is a Set lookup.
    const scopes = new Set(typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : []);
    return { kind: "service", serviceName: subject, scopes, tokenId };
  }
  if (claims.token_kind !== "user") throw unauthenticated("token kind is not recognised", "TOKEN_INVALID");
  if (!audiences(claims).includes(userAudience)) throw unauthenticated("token audience is not trustmesh", "TOKEN_WRONG_AUDIENCE");
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((role) => typeof role === "string") : [];
  const sessionId = typeof claims.sid === "string" ? claims.sid : undefined;
  return { kind: "user", userId: subject, roles, sessionId, tokenId };
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const keys =
    options.keys ??
    createRemoteJWKSet(new URL(options.jwksUrl ?? ""), {
      // Refetch at most every 30 s when an unknown kid appears, so a flood of
      // forged kids cannot hammer auth.
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  const verified = new LRUCache<string, Principal>({ max: options.cacheMax ?? 10_000 });

  return {
    cached: (token) => verified.get(token),
    async verify(token) {
      const cached = verified.get(token);
      if (cached) return cached;
      if (token.length > tokenLengthMax) throw unauthenticated("token is too long", "TOKEN_INVALID");
      let claims: TrustmeshClaims;
      try {
        ({ payload: claims } = await jwtVerify<TrustmeshClaims>(token, keys, {
          algorithms: ["EdDSA"],
          issuer: options.issuer,
          audience: [userAudience, options.serviceName],
          requiredClaims: ["exp", "sub"],
        }));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw unauthenticated("token has expired", "TOKEN_EXPIRED");
        if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === "aud") {
          throw unauthenticated("token is not addressed to this service", "TOKEN_WRONG_AUDIENCE");
        }
        if (error instanceof joseErrors.JOSEError) throw unauthenticated("token is not valid", "TOKEN_INVALID");
        throw error;
      }
      const principal = principalFrom(claims, options.serviceName);
      const ttlMs = (claims.exp as number) * 1000 - Date.now();
      if (ttlMs > 0) verified.set(token, principal, { ttl: ttlMs });
      return principal;
    },
  };
}
