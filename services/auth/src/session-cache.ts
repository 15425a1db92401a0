// Whether a session is alive, asked on every USER call at auth. Postgres
// holds the truth (auth_session.revoked_at); Redis caches the answer per
// session so the check costs one GET. Revocation writes Postgres first, then
// overwrites the cache, so a revoked session is refused at auth at once; if
// Redis is flushed the next check reloads from Postgres, so nothing revoked can
// come back.
import type { Redis } from "ioredis";
import type { AuthStore } from "./store.ts";

interface CachedSession {
  userId: string;
  /** 0 when the session has ended (revoked or expired). */
  activeUntilMs: number;
}

export interface SessionCache {
  /** Whether the session exists, belongs to the user, and is neither revoked nor expired. */
  isActive(sessionId: string, userId: string): Promise<boolean>;
  /** Records sessions as ended, after Postgres has. */
  markRevoked(sessionIds: readonly string[]): Promise<void>;
}

export function createSessionCache(redis: Redis, store: AuthStore, cacheSeconds: number): SessionCache {
  const key = (sessionId: string) => `session:{${sessionId}}`;
  return {
    async isActive(sessionId, userId) {
      const now = Date.now();
      const cachedText = await redis.get(key(sessionId));
      let cached: CachedSession | undefined = cachedText ? (JSON.parse(cachedText) as CachedSession) : undefined;
      if (!cached) {
        const session = await store.findSession(sessionId);
        const activeUntilMs = session && session.revokedAt === null ? session.expiresAt.getTime() : 0;
        cached = { userId: session?.userId ?? "", activeUntilMs };
        await redis.set(key(sessionId), JSON.stringify(cached), "EX", cacheSeconds);
      }
      return cached.userId === userId && cached.activeUntilMs > now;
    },
    async markRevoked(sessionIds) {
      if (sessionIds.length === 0) return;
      const pipeline = redis.pipeline();
      // The user id does not matter for an ended session: no user may use it.
      for (const sessionId of sessionIds)
        pipeline.set(key(sessionId), JSON.stringify({ userId: "", activeUntilMs: 0 }), "EX", cacheSeconds);
      await pipeline.exec();
    },
  };
}
