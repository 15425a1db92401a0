// A bound on guessing second-factor codes. A six-digit TOTP code accepted
// within ±1 step has 3 chances in a million per guess, so without a bound a
// caller who holds the password (at CompleteMfa) or a stolen access token (at
// DisableTotp) could simply try them all. Every code attempt is counted in
// Redis BEFORE it is checked, so parallel guesses cannot slip past the limit;
// an accepted code clears the count. One budget per account covers login,
// confirmation and disabling alike.
import { resourceExhausted } from "@trustmesh/runtime";
import type { Redis } from "ioredis";

export interface CodeAttempts {
  /** Counts one attempt for the account, or throws RESOURCE_EXHAUSTED (with the wait) when its budget is spent. */
  take(userId: string): Promise<void>;
  /** Clears the account's count after an accepted code. */
  clear(userId: string): Promise<void>;
}

export interface CodeAttemptsOptions {
  attemptsMax: number;
  windowMs: number;
  /** Redis key prefix; tests give each run its own. */
  keyPrefix?: string;
}

// INCR and the expiry in one step: a crash between them would leave a counter
// without expiry that locks the account's codes for ever.
const takeScript = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
`;

export function createCodeAttempts(redis: Redis, options: CodeAttemptsOptions): CodeAttempts {
  const prefix = options.keyPrefix ?? "auth:mfa:code-attempts:";
  return {
    async take(userId) {
      const [count, ttlMs] = (await redis.eval(takeScript, 1, prefix + userId, options.windowMs)) as [number, number];
      if (count > options.attemptsMax) {
        throw resourceExhausted(
          "too many second-factor codes tried; wait before trying again",
          "MFA_CODE_ATTEMPTS_EXHAUSTED",
          Math.max(ttlMs, 0),
        );
      }
    },
    async clear(userId) {
      await redis.del(prefix + userId);
    },
  };
}
