// Half-finished sign-ins waiting for a second factor. The mfa_token is 256-bit
// random; Redis keeps, under its SHA-256, who signed in and from where, with a
// short lifetime and a count of wrong answers. A challenge is used up by the
// first right answer (only the caller whose DEL removed it may finish). Losing
// them to a Redis flush only means signing in again.
import type { Redis } from "ioredis";
import { opaqueToken, tokenHash } from "./tokens.ts";

export interface PendingSignIn {
  userId: string;
  deviceName: string;
  ipAddress: string;
  userAgent: string;
}

export interface MfaChallenges {
  /**
   * A fresh mfa token and the id its challenge goes by (the token's SHA-256).
   * Nothing is stored yet: Login learns the account's factors under this id
   * first, and issues the challenge only when there are any.
   */
  create(): { mfaToken: string; challengeId: string };
  /** Stores the pending sign-in under the challenge id; returns when it expires. */
  issue(challengeId: string, pending: PendingSignIn): Promise<Date>;
  /** The pending sign-in and its challenge id, or undefined when unknown, expired or out of attempts. */
  attempt(mfaToken: string): Promise<{ pending: PendingSignIn; challengeId: string } | undefined>;
  /** Ends the challenge; true only for the one caller that ended it. */
  consume(challengeId: string): Promise<boolean>;
}

const attemptScript = `
local body = redis.call('GET', KEYS[1])
if not body then return false end
local attempts = redis.call('INCR', KEYS[2])
if attempts == 1 then redis.call('PEXPIRE', KEYS[2], redis.call('PTTL', KEYS[1])) end
if attempts > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return false
end
return body`;

export function createMfaChallenges(redis: Redis, options: { ttlSeconds: number; attemptsMax: number }): MfaChallenges {
  const keys = (challengeId: string) => [`mfa:{${challengeId}}`, `mfa:{${challengeId}}:attempts`] as const;
  return {
    create() {
      const mfaToken = opaqueToken();
      return { mfaToken, challengeId: tokenHash(mfaToken).toString("base64url") };
    },
    async issue(challengeId, pending) {
      await redis.set(keys(challengeId)[0], JSON.stringify(pending), "EX", options.ttlSeconds);
      return new Date(Date.now() + options.ttlSeconds * 1000);
    },
    async attempt(mfaToken) {
      const challengeId = tokenHash(mfaToken).toString("base64url");
      const [body, attempts] = keys(challengeId);
      const found = (await redis.eval(attemptScript, 2, body, attempts, options.attemptsMax)) as string | null;
      return found ? { pending: JSON.parse(found) as PendingSignIn, challengeId } : undefined;
    },
    async consume(challengeId) {
      const [body, attempts] = keys(challengeId);
      const removed = await redis.del(body);
      await redis.del(attempts);
      return removed === 1;
    },
  };
}
