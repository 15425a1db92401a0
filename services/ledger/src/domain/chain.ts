// The hash chain (Formance's hashed log): every committed transaction carries
// hash = SHA-256(previous_hash ‖ canonical(transaction)), the first one chained
// to 32 zero bytes. The canonical document covers every stored column of the
// transaction row and of each of its entries (README: "Hash chain"), so changing
// any committed byte breaks the link at that transaction.
import { type CanonicalValue, canonicalJson, jsonString as quote } from "./canonical-json.ts";
import { isoTime } from "./iso-time.ts";
import type { EntryRecord, TransactionRecord } from "./records.ts";
import { sha256 } from "./sha256.ts";

/** previous_hash of sequence 1. */
export const genesisHash: Buffer = Buffer.alloc(32);

/** Bumped if the document ever changes shape; hashed, so old links keep verifying under their version. */
const canonicalVersion = "1";

function entryDocument(entry: EntryRecord): CanonicalValue {
  return {
    id: entry.id,
    transaction_id: entry.transactionId,
    sequence: entry.sequence.toString(),
    transaction_kind: entry.transactionKind,
    posting_index: String(entry.postingIndex),
    account_id: entry.accountId,
    counterparty_account_id: entry.counterpartyAccountId,
    direction: entry.direction,
    currency: entry.currency,
    amount: entry.amount.toString(),
    posted_balance_after: entry.postedBalanceAfter.toString(),
    available_balance_after: entry.availableBalanceAfter.toString(),
    reference: entry.reference,
    created_at: entry.createdAt.toISOString(),
  };
}

function entryOrder(a: EntryRecord, b: EntryRecord): number {
  if (a.postingIndex !== b.postingIndex) return a.postingIndex - b.postingIndex;
  if (a.direction === b.direction) return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  return a.direction === "DEBIT" ? -1 : 1;
}

/**
 * The document hashed for a transaction, as a value: its definition. Every
 * member is a string; canonicalJson sorts the keys (previous_hash is the
 * prefix of the hash input, not a member).
 */
export function canonicalDocument(transaction: TransactionRecord): CanonicalValue {
  return {
    version: canonicalVersion,
    id: transaction.id,
    sequence: transaction.sequence.toString(),
    kind: transaction.kind,
    idempotency_scope: transaction.idempotencyScope,
    idempotency_key: transaction.idempotencyKey,
    request_hash: transaction.requestHash.toString("hex"),
    reference: transaction.reference,
    metadata: { ...transaction.metadata },
    pending_transaction_id: transaction.pendingTransactionId ?? "",
    timeout_at: transaction.timeoutAt?.toISOString() ?? "",
    void_reason: transaction.voidReason,
    created_by: transaction.createdBy,
    created_at: transaction.createdAt.toISOString(),
    entries: [...transaction.entries].sort(entryOrder).map(entryDocument),
  };
}

/** canonicalJson(metadata), with the usual empty object spelled out. */
function encodeMetadata(metadata: Record<string, string>): string {
  for (const key in metadata) if (Object.hasOwn(metadata, key)) return canonicalJson(metadata);
  return "{}";
}

// The same text as canonicalJson(entryDocument(entry)), written out with the
// keys already in sorted order: the hash is on the batch writer's critical
// path, and the generic encoder's sorting and recursion cost more than the
// hashing itself. A test holds the two equal. `sequence` is the decimal text
// of the transaction's sequence, which every entry of a consistent
// transaction shares (an entry read back with another one spells its own).
function encodeEntry(entry: EntryRecord, transactionSequence: bigint, sequence: string): string {
  return (
    `{"account_id":${quote(entry.accountId)},"amount":"${entry.amount}","available_balance_after":"${entry.availableBalanceAfter}",` +
    `"counterparty_account_id":${quote(entry.counterpartyAccountId)},"created_at":"${isoTime(entry.createdAt)}",` +
    `"currency":${quote(entry.currency)},"direction":${quote(entry.direction)},"id":${quote(entry.id)},` +
    `"posted_balance_after":"${entry.postedBalanceAfter}","posting_index":"${entry.postingIndex}","reference":${quote(entry.reference)},` +
    `"sequence":"${entry.sequence === transactionSequence ? sequence : entry.sequence}","transaction_id":${quote(entry.transactionId)},` +
    `"transaction_kind":${quote(entry.transactionKind)}}`
  );
}

/** The entries in canonical order: as they are when the engine made them or the store read them, else sorted (stable, as before). */
function inEntryOrder(entries: readonly EntryRecord[]): readonly EntryRecord[] {
  for (let index = 1; index < entries.length; index++) {
    if (entryOrder(entries[index - 1] as EntryRecord, entries[index] as EntryRecord) > 0) return [...entries].sort(entryOrder);
  }
  return entries;
}

/** canonicalJson(canonicalDocument(transaction)), fast. */
export function canonicalTransaction(transaction: TransactionRecord): string {
  const sequence = String(transaction.sequence);
  let entries = "";
  for (const entry of inEntryOrder(transaction.entries)) {
    entries +=
      entries === "" ? encodeEntry(entry, transaction.sequence, sequence) : `,${encodeEntry(entry, transaction.sequence, sequence)}`;
  }
  return (
    `{"created_at":"${isoTime(transaction.createdAt)}","created_by":${quote(transaction.createdBy)},"entries":[${entries}],` +
    `"id":${quote(transaction.id)},"idempotency_key":${quote(transaction.idempotencyKey)},` +
    `"idempotency_scope":${quote(transaction.idempotencyScope)},"kind":${quote(transaction.kind)},` +
    `"metadata":${encodeMetadata(transaction.metadata)},"pending_transaction_id":${quote(transaction.pendingTransactionId ?? "")},` +
    `"reference":${quote(transaction.reference)},"request_hash":"${transaction.requestHash.toString("hex")}",` +
    `"sequence":"${sequence}","timeout_at":"${transaction.timeoutAt?.toISOString() ?? ""}",` +
    `"version":"${canonicalVersion}","void_reason":${quote(transaction.voidReason)}}`
  );
}

// The hash input, previous hash then UTF-8 text, is laid out in one reused
// buffer and hashed in one call (sha256.ts): createHash, two updates and a digest cost
// several crossings into C++ and three objects per transaction. The buffer
// grows to the largest transaction seen, which the contract's bounds keep to
// some hundreds of kilobytes.
let hashInput = Buffer.allocUnsafe(16 * 1024);

export function transactionHash(previousHash: Buffer, transaction: TransactionRecord): Buffer {
  const text = canonicalTransaction(transaction);
  // UTF-8 needs at most three bytes per UTF-16 code unit.
  const capacity = previousHash.length + 3 * text.length;
  if (hashInput.length < capacity) hashInput = Buffer.allocUnsafe(capacity);
  previousHash.copy(hashInput, 0);
  const length = previousHash.length + hashInput.write(text, previousHash.length, "utf8");
  return sha256(hashInput.subarray(0, length));
}

export type ChainBreakReasonName = "HASH_MISMATCH" | "PREVIOUS_HASH_MISMATCH" | "SEQUENCE_GAP" | "ANCHOR_MISMATCH";

export interface ChainBreakRecord {
  reason: ChainBreakReasonName;
  sequence: bigint;
  /** Empty for a sequence gap. */
  transactionId: string;
  expectedHash: Buffer;
  actualHash: Buffer;
}

const empty = Buffer.alloc(0);

/** Gap breaks reported per call at most: callers keep 100 and flag the rest as truncated. */
const gapBreaksMax = 101;

/**
 * Walks consecutive transactions and reports broken links. Start it at the
 * first sequence to check with the stored hash of the transaction before it
 * (genesisHash for sequence 1). Each break is reported at the transaction where
 * it shows: a HASH_MISMATCH at the altered transaction only (its successor still
 * links to its stored hash), a SEQUENCE_GAP for each missing sequence.
 */
export function createChainWalker(firstSequence: bigint, previousHash: Buffer | undefined) {
  let expectedSequence = firstSequence;
  let previous = previousHash;
  return {
    /** Checks the next transaction in sequence order; returns the breaks it shows. */
    visit(transaction: TransactionRecord): ChainBreakRecord[] {
      const breaks: ChainBreakRecord[] = [];
      if (transaction.sequence < expectedSequence) throw new Error(`ledger: chain walk went backwards at ${transaction.sequence}`);
      const gap = transaction.sequence !== expectedSequence;
      for (let missing = expectedSequence; missing < transaction.sequence && breaks.length < gapBreaksMax; missing++) {
        breaks.push({ reason: "SEQUENCE_GAP", sequence: missing, transactionId: "", expectedHash: empty, actualHash: empty });
      }
      // After a gap the link to the deleted transaction cannot be checked; the gap says it all.
      if (!gap && previous !== undefined && !transaction.previousHash.equals(previous)) {
        breaks.push({
          reason: "PREVIOUS_HASH_MISMATCH",
          sequence: transaction.sequence,
          transactionId: transaction.id,
          expectedHash: previous,
          actualHash: transaction.previousHash,
        });
      }
      const recomputed = transactionHash(transaction.previousHash, transaction);
      if (!recomputed.equals(transaction.hash)) {
        breaks.push({
          reason: "HASH_MISMATCH",
          sequence: transaction.sequence,
          transactionId: transaction.id,
          expectedHash: recomputed,
          actualHash: transaction.hash,
        });
      }
      previous = transaction.hash;
      expectedSequence = transaction.sequence + 1n;
      return breaks;
    },
    /** Reports sequences missing between the last visited transaction and `lastSequence`. */
    finish(lastSequence: bigint): ChainBreakRecord[] {
      const breaks: ChainBreakRecord[] = [];
      for (let missing = expectedSequence; missing <= lastSequence && breaks.length < gapBreaksMax; missing++) {
        breaks.push({ reason: "SEQUENCE_GAP", sequence: missing, transactionId: "", expectedHash: empty, actualHash: empty });
      }
      expectedSequence = lastSequence + 1n;
      return breaks;
    },
  };
}
