// Rate limits on the public ceremonies (sign-up, login, codes, refresh,
// service tokens), per client IP and per identifier, counted in Redis by
// rate-limiter-flexible so every replica shares them.

import { createHash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { resourceExhausted } from "@trustmesh/runtime";
import type { Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

export interface RateLimits {
  /** Counts one call from the IP and for each identifier; throws RESOURCE_EXHAUSTED past a limit. */
  consume(ipAddress: string, identifiers: readonly string[]): Promise<void>;
}

export function createRateLimits(redis: Redis, options: { perIp: number; perIdentifier: number; windowSeconds: number }): RateLimits {
  const byIp = new RateLimiterRedis({ storeClient: redis, keyPrefix: "rate:ip", points: options.perIp, duration: options.windowSeconds });
  const byIdentifier = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: "rate:id",
    points: options.perIdentifier,
    duration: options.windowSeconds,
  });
  const consume = async (limiter: RateLimiterRedis, key: string) => {
    try {
      await limiter.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes)
        throw resourceExhausted("too many attempts; try again later", "RATE_LIMITED", error.msBeforeNext);
      // Redis is down: refuse rather than run the ceremony unlimited.
      throw new ConnectError("rate limiting is unavailable", Code.Unavailable, undefined, undefined, error);
    }
  };
  return {
    async consume(ipAddress, identifiers) {
      await consume(byIp, ipAddress || "unknown");
      // Identifiers are hashed so contacts do not sit in Redis in plain text.
      for (const identifier of identifiers) await consume(byIdentifier, createHash("sha256").update(identifier).digest("base64url"));
    },
  };
}
