// Account lockout after N failed password attempts, with a growing lock.
//
// The count is reserved atomically BEFORE the password is checked (one Lua
// script), so N parallel wrong guesses use up every try and guess N+1 is
// refused without being checked: parallel attempts can never exceed N. (The
// bug this avoids, GHSA-7h8m-vrxx-vr4m, checked the count, then the password,
// then counted.) A success clears the count; the attempt that fails as the Nth
// sets the lock, whose length doubles with each lockout within a day.
//
// Counters live in Redis: losing them (a flush) only forgets recent failures,
// which DESIGN.md §4 allows for rate and lockout state.
import type { Redis } from "ioredis";

const reserveScript = `
local lockTtl = redis.call('PTTL', KEYS[2])
if lockTtl > 0 then return {0, lockTtl} end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return {0, 1000} end
return {1, n}`;

const failScript = `
if tonumber(ARGV[4]) < tonumber(ARGV[1]) then return 0 end
local level = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], 86400000)
local duration = math.min(tonumber(ARGV[2]) * 2 ^ (level - 1), tonumber(ARGV[3]))
duration = math.floor(duration)
redis.call('SET', KEYS[2], '1', 'PX', duration)
redis.call('DEL', KEYS[1])
return duration`;

export interface LockoutOptions {
  threshold: number;
  windowMs: number;
  baseLockMs: number;
  maxLockMs: number;
}

/** Either a reserved attempt (its number) or a refusal with how long to wait. */
export type Reservation = { allowed: true; attempt: number } | { allowed: false; retryAfterMs: number };

export interface Lockout {
  /** Reserves one password check for the subject (user id or unknown identifier). */
  reserve(subject: string): Promise<Reservation>;
  /** Records the reserved attempt as failed; returns the lock length when this failure locked the account. */
  fail(subject: string, attempt: number): Promise<number | undefined>;
  succeed(subject: string): Promise<void>;
}

export function createLockout(redis: Redis, options: LockoutOptions): Lockout {
  const keys = (subject: string) => [`lockout:{${subject}}:failures`, `lockout:{${subject}}:lock`, `lockout:{${subject}}:level`];
  return {
    async reserve(subject) {
      const [failures, lock] = keys(subject);
      const [allowed, value] = (await redis.eval(
        reserveScript,
        2,
        failures as string,
        lock as string,
        options.threshold,
        options.windowMs,
      )) as [number, number];
      return allowed === 1 ? { allowed: true, attempt: value } : { allowed: false, retryAfterMs: value };
    },
    async fail(subject, attempt) {
      const [failures, lock, level] = keys(subject) as [string, string, string];
      const lockedMs = (await redis.eval(
        failScript,
        3,
        failures,
        lock,
        level,
        options.threshold,
        options.baseLockMs,
        options.maxLockMs,
        attempt,
      )) as number;
      return lockedMs > 0 ? lockedMs : undefined;
    },
    async succeed(subject) {
      const [failures, , level] = keys(subject) as [string, string, string];
      await redis.del(failures, level);
    },
  };
}
