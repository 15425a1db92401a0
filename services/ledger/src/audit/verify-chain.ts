// VerifyChain: walks the stored chain page by page, recomputing each hash, and
// names the broken links (README: "Hash chain"). Bounded per call: the walk
// stops after transactionsMax transactions and says where to continue.
import { type ChainBreakRecord, createChainWalker, genesisHash } from "../domain/chain.ts";
import { readChainPage, readHead, readStoredHash } from "../store/chain.ts";
import type { Queryable } from "../store/database.ts";

export interface ChainVerificationRecord {
  intact: boolean;
  firstSequence: bigint;
  lastSequence: bigint;
  checkedCount: bigint;
  lastHash: Buffer;
  breaks: ChainBreakRecord[];
  breaksTruncated: boolean;
  truncated: boolean;
}

export interface VerifyChainOptions {
  /** 0: from the first transaction. */
  fromSequence: bigint;
  /** 0: up to the head. */
  toSequence: bigint;
  /** A hash recorded earlier for the last sequence checked; empty: none. */
  expectedLastHash: Buffer;
  /** Transactions read per query. */
  pageSize: number;
  /** Most transactions checked per call. */
  transactionsMax: number;
}

const breaksMax = 100;
const empty = Buffer.alloc(0);

export async function verifyChain(database: Queryable, options: VerifyChainOptions): Promise<ChainVerificationRecord> {
  const head = await readHead(database);
  const first = options.fromSequence === 0n ? 1n : options.fromSequence;
  const last = options.toSequence === 0n || options.toSequence > head.sequence ? head.sequence : options.toSequence;
  const result: ChainVerificationRecord = {
    intact: true,
    firstSequence: first,
    lastSequence: first - 1n,
    checkedCount: 0n,
    lastHash: empty,
    breaks: [],
    breaksTruncated: false,
    truncated: false,
  };
  if (first > last) return result;

  const previousHash = first === 1n ? genesisHash : await readStoredHash(database, first - 1n);
  const walker = createChainWalker(first, previousHash);
  const found: ChainBreakRecord[] = [];
  let cursor = first;
  let lastSeen: { sequence: bigint; hash: Buffer } | undefined;
  while (cursor <= last && !result.truncated) {
    const limit = Math.min(options.pageSize, options.transactionsMax - Number(result.checkedCount));
    const page = await readChainPage(database, cursor, last, limit);
    if (page.length === 0) break;
    for (const transaction of page) {
      const breaks = walker.visit(transaction);
      if (found.length <= breaksMax) found.push(...breaks);
      result.checkedCount++;
      lastSeen = { sequence: transaction.sequence, hash: transaction.hash };
    }
    cursor = (lastSeen?.sequence ?? cursor) + 1n;
    if (Number(result.checkedCount) >= options.transactionsMax && cursor <= last) result.truncated = true;
  }
  if (!result.truncated) {
    // Sequences missing at the end of the range (the last transactions deleted).
    found.push(...walker.finish(last));
    if (last === head.sequence && lastSeen?.sequence === last && !lastSeen.hash.equals(head.hash)) {
      // The head is the previous_hash of the next transaction; it must be the last stored hash.
      found.push({
        reason: "PREVIOUS_HASH_MISMATCH",
        sequence: last + 1n,
        transactionId: "",
        expectedHash: lastSeen.hash,
        actualHash: head.hash,
      });
    }
  }
  result.lastSequence = result.truncated ? (lastSeen?.sequence ?? first - 1n) : last;
  result.lastHash =
    lastSeen?.sequence === result.lastSequence ? lastSeen.hash : ((await readStoredHash(database, result.lastSequence)) ?? empty);
  if (!result.truncated && options.expectedLastHash.length > 0 && !options.expectedLastHash.equals(result.lastHash)) {
    found.push({
      reason: "ANCHOR_MISMATCH",
      sequence: result.lastSequence,
      transactionId: "",
      expectedHash: options.expectedLastHash,
      actualHash: result.lastHash,
    });
  }
  result.breaks = found.slice(0, breaksMax);
  result.breaksTruncated = found.length > breaksMax;
  result.intact = found.length === 0;
  return result;
}
