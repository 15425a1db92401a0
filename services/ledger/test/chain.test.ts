// Goal: the canonical encoding is deterministic and covers every stored field,
// and the chain walker names exactly the altered link — a changed entry, a
// rewritten previous hash, a deleted transaction — and nothing else.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { canonicalJson } from "../src/domain/canonical-json.ts";
import { canonicalDocument, canonicalTransaction, createChainWalker, genesisHash, transactionHash } from "../src/domain/chain.ts";
import type { TransactionRecord } from "../src/domain/records.ts";

function chainOf(count: number): TransactionRecord[] {
  const chain: TransactionRecord[] = [];
  let previous = genesisHash;
  for (let index = 1; index <= count; index++) {
    const id = `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`;
    const createdAt = new Date(Date.UTC(2026, 0, 1, 0, 0, index));
    const common = {
      transactionId: id,
      sequence: BigInt(index),
      transactionKind: "POSTED" as const,
      postingIndex: 0,
      currency: "ETH" as const,
    };
    const transaction: TransactionRecord = {
      id,
      sequence: BigInt(index),
      kind: "POSTED",
      idempotencyScope: "service:payments",
      idempotencyKey: `key-${index}`,
      requestHash: Buffer.alloc(32, index),
      reference: "payment:1",
      metadata: { b: "2", a: "1" },
      pendingTransactionId: null,
      timeoutAt: null,
      voidReason: "",
      createdBy: "payments",
      previousHash: previous,
      hash: Buffer.alloc(0),
      createdAt,
      entries: [
        {
          ...common,
          id: `e${index}-c`,
          accountId: "b",
          counterpartyAccountId: "a",
          direction: "CREDIT",
          amount: 10n ** 20n,
          postedBalanceAfter: 10n ** 20n * BigInt(index),
          availableBalanceAfter: 10n ** 20n * BigInt(index),
          reference: "payment:1",
          createdAt,
        },
        {
          ...common,
          id: `e${index}-d`,
          accountId: "a",
          counterpartyAccountId: "b",
          direction: "DEBIT",
          amount: 10n ** 20n,
          postedBalanceAfter: -(10n ** 20n) * BigInt(index),
          availableBalanceAfter: -(10n ** 20n) * BigInt(index),
          reference: "payment:1",
          createdAt,
        },
      ],
    };
    transaction.hash = transactionHash(previous, transaction);
    previous = transaction.hash;
    chain.push(transaction);
  }
  return chain;
}

function walk(chain: TransactionRecord[], lastSequence: bigint) {
  const walker = createChainWalker(1n, genesisHash);
  return [...chain.flatMap((transaction) => walker.visit(transaction)), ...walker.finish(lastSequence)];
}

describe("hash chain", () => {
  it("encodes canonically: sorted keys, strings only, entries in posting order whatever the input order", () => {
    assert.equal(canonicalJson({ b: "1", a: ["x", { d: "é", c: "\u0000" }] }), '{"a":["x",{"c":"\\u0000","d":"é"}],"b":"1"}');
    const [transaction] = chainOf(1) as [TransactionRecord];
    const reordered = { ...transaction, metadata: { a: "1", b: "2" }, entries: [...transaction.entries].reverse() };
    assert.equal(canonicalTransaction(reordered), canonicalTransaction(transaction));
    const document = JSON.parse(canonicalTransaction(transaction));
    assert.equal(document.entries[0].direction, "DEBIT");
    assert.equal(document.entries[0].amount, "100000000000000000000");
    assert.equal(document.sequence, "1");
  });

  it("writes the fast encoding exactly as the generic canonical JSON of the document defines it", () => {
    const [plain] = chainOf(1) as [TransactionRecord];
    const unusual: TransactionRecord = {
      ...plain,
      kind: "PENDING",
      reference: 'quote " backslash \\ line\nend',
      metadata: { é: "ü", z: "\u0001", a: "", "a.b": "x" },
      pendingTransactionId: "00000000-0000-4000-8000-00000000000f",
      timeoutAt: new Date(Date.UTC(2027, 5, 1, 12, 0, 0, 5)),
      voidReason: "∑ reasons",
      entries: plain.entries.map((entry) => ({ ...entry, postedBalanceAfter: -(10n ** 77n), postingIndex: 31 })),
    };
    // Text JSON must escape (a lone surrogate, quotes, controls) next to text it must not (a pair, U+2028, DEL),
    // and entries as a tampered row could hold them: out of order, with a sequence of their own.
    const escapes: TransactionRecord = {
      ...plain,
      idempotencyKey: "lone \ud800 high, lone \udc00 low",
      createdBy: "pair \ud83d\ude00 sep \u2028 del \u007f",
      voidReason: '"',
      metadata: { "\ud800": "\\", "": "\u001f" },
      entries: [...plain.entries].reverse().map((entry, index) => ({
        ...entry,
        sequence: index === 0 ? entry.sequence : entry.sequence + 5n,
        accountId: index === 0 ? "tab\there" : entry.accountId,
        reference: "\udfff",
      })),
    };
    // Larger than the hash's first input buffer, so the buffer grows (and stays right after).
    const large: TransactionRecord = {
      ...unusual,
      metadata: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, "é".repeat(512)])),
    };
    for (const transaction of [plain, unusual, escapes, large, plain]) {
      const definition = canonicalJson(canonicalDocument(transaction));
      assert.equal(canonicalTransaction(transaction), definition);
      const expected = createHash("sha256").update(transaction.previousHash).update(definition, "utf8").digest();
      assert.deepEqual(transactionHash(transaction.previousHash, transaction), expected);
    }
  });

  it("changes the hash when any field of the transaction or of an entry changes", () => {
    const [transaction] = chainOf(1) as [TransactionRecord];
    const base = transactionHash(genesisHash, transaction);
    const variants: TransactionRecord[] = [
      { ...transaction, reference: "payment:2" },
      { ...transaction, metadata: { a: "1", b: "3" } },
      { ...transaction, createdBy: "mallory" },
      { ...transaction, requestHash: Buffer.alloc(32, 9) },
      {
        ...transaction,
        entries: transaction.entries.map((entry, index) => (index === 0 ? { ...entry, amount: entry.amount + 1n } : entry)),
      },
      { ...transaction, entries: transaction.entries.map((entry, index) => (index === 1 ? { ...entry, postedBalanceAfter: 0n } : entry)) },
      { ...transaction, entries: transaction.entries.map((entry, index) => (index === 1 ? { ...entry, accountId: "c" } : entry)) },
    ];
    for (const variant of variants) assert.ok(!transactionHash(genesisHash, variant).equals(base));
    assert.ok(!transactionHash(Buffer.alloc(32, 1), transaction).equals(base), "the previous hash is part of the input");
  });

  it("finds an intact chain intact", () => {
    assert.deepEqual(walk(chainOf(5), 5n), []);
  });

  it("names only the altered transaction when an entry was edited", () => {
    const chain = chainOf(5);
    const altered = chain[2] as TransactionRecord;
    altered.entries[0] = { ...(altered.entries[0] as TransactionRecord["entries"][number]), amount: 1n };
    const breaks = walk(chain, 5n);
    assert.deepEqual(
      breaks.map((found) => [found.reason, found.sequence, found.transactionId]),
      [["HASH_MISMATCH", 3n, altered.id]],
    );
  });

  it("names a rewritten previous hash, a deleted transaction and deleted tail transactions", () => {
    const relinked = chainOf(4);
    (relinked[1] as TransactionRecord).previousHash = Buffer.alloc(32, 7);
    const relinkBreaks = walk(relinked, 4n).map((found) => [found.reason, found.sequence]);
    assert.deepEqual(relinkBreaks, [
      ["PREVIOUS_HASH_MISMATCH", 2n],
      ["HASH_MISMATCH", 2n],
    ]);
    const gapped = chainOf(5).filter((transaction) => transaction.sequence !== 3n);
    assert.deepEqual(
      walk(gapped, 5n).map((found) => [found.reason, found.sequence]),
      [["SEQUENCE_GAP", 3n]],
    );
    assert.deepEqual(
      walk(chainOf(3), 5n).map((found) => [found.reason, found.sequence]),
      [
        ["SEQUENCE_GAP", 4n],
        ["SEQUENCE_GAP", 5n],
      ],
    );
  });
});
