// What the AuthService handlers are built from. Everything is passed in, so
// tests can hand in real parts (a throwaway Postgres and Redis) or a double
// for the part a test is not about.
import type { BlockList } from "node:net";
import type { Logger, ServiceConfig } from "@trustmesh/runtime";
import type { Redis } from "ioredis";
import type { AuthMetrics } from "../auth-metrics.ts";
import type { CodeHasher } from "../codes.ts";
import type { authConfigShape } from "../config.ts";
import type { Lockout } from "../lockout.ts";
import type { SecondFactorModules } from "../mfa/second-factors.ts";
import type { MfaChallenges } from "../mfa-challenges.ts";
import type { Dispatcher } from "../notifier.ts";
import type { PasswordHasher } from "../passwords.ts";
import type { RateLimits } from "../rate-limits.ts";
import type { SessionCache } from "../session-cache.ts";
import type { AuthStore } from "../store.ts";
import type { TokenSigner } from "../tokens.ts";

export type AuthConfig = ServiceConfig<typeof authConfigShape>;

export interface AuthServiceDependencies {
  config: AuthConfig;
  store: AuthStore;
  redis: Redis;
  signer: TokenSigner;
  passwords: PasswordHasher;
  codes: CodeHasher;
  rateLimits: RateLimits;
  lockout: Lockout;
  sessions: SessionCache;
  mfaChallenges: MfaChallenges;
  /** TOTP, recovery codes, passkeys, and the facade Login, CompleteMfa and GetMe use (src/mfa, docs/second-factors.md). */
  mfa: SecondFactorModules;
  dispatcher: Dispatcher;
  metrics: AuthMetrics;
  logger: Logger;
  trustedProxies: BlockList;
  /** Retired keys stay published this long: the longest lifetime of a token they signed. */
  retiredKeyPublishMs: number;
}
