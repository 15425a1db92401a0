// Accounts never change once created (the database refuses UPDATE), so the
// batch writer keeps the ones it has seen in memory and reads only the others:
// one query fewer per batch on the hot path. Bounded, least recently used out.
import { LRUCache } from "lru-cache";
import type { AccountRecord } from "./domain/records.ts";
import { findAccounts } from "./store/accounts.ts";
import type { Queryable } from "./store/database.ts";

export interface AccountCache {
  /** Accounts by id, from memory or the database; unknown ids are absent. */
  find(database: Queryable, ids: readonly string[]): Promise<Map<string, AccountRecord>>;
}

export function createAccountCache(options: { entriesMax: number }): AccountCache {
  const cache = new LRUCache<string, AccountRecord>({ max: options.entriesMax });
  return {
    async find(database, ids) {
      const found = new Map<string, AccountRecord>();
      const missing: string[] = [];
      for (const id of ids) {
        const cached = cache.get(id);
        if (cached === undefined) missing.push(id);
        else found.set(id, cached);
      }
      // Unknown ids are not remembered: the account may be created a moment later.
      for (const account of await findAccounts(database, missing)) {
        cache.set(account.id, account);
        found.set(account.id, account);
      }
      return found;
    },
  };
}
