// Accounts never change once created (the database refuses UPDATE), so the
// batch writer keeps the ones it has seen in memory and asks the database only
// for the others. Bounded, least recently used out.
import { LRUCache } from "lru-cache";
import type { AccountRecord } from "./domain/records.ts";

export interface AccountCache {
  /** The known accounts among ids; unknown ids are absent. */
  known(ids: readonly string[]): Map<string, AccountRecord>;
  remember(accounts: readonly AccountRecord[]): void;
}

export function createAccountCache(options: { entriesMax: number }): AccountCache {
  const cache = new LRUCache<string, AccountRecord>({ max: options.entriesMax });
  return {
    known(ids) {
      const found = new Map<string, AccountRecord>();
      for (const id of ids) {
        const cached = cache.get(id);
        if (cached !== undefined) found.set(id, cached);
      }
      return found;
    },
    remember(accounts) {
      // Only accounts that exist arrive here: an unknown id may be created a moment later.
      for (const account of accounts) cache.set(account.id, account);
    },
  };
}
