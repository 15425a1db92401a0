// Goal: a transaction's postings and message are the same whether its entries
// come in the engine's debit/credit order (the direct path) or any other order
// (the general path), and a shared commit timestamp never answers for a Date
// that changed or another Date.
import assert from "node:assert/strict";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type EntryRecord, isPairedInOrder, postingsOf, type TransactionRecord } from "../src/domain/records.ts";
import { transactionToProto } from "../src/service/to-proto.ts";

const createdAt = new Date(Date.UTC(2026, 10, 23, 12, 0, 0, 5));

function entry(postingIndex: number, direction: "DEBIT" | "CREDIT", accountId: string, amount: bigint): EntryRecord {
  return {
    id: `${postingIndex}-${direction}`,
    transactionId: "t",
    sequence: 9n,
    transactionKind: "POSTED",
    postingIndex,
    accountId,
    counterpartyAccountId: "",
    direction,
    currency: "USD",
    amount,
    postedBalanceAfter: 0n,
    availableBalanceAfter: 0n,
    reference: "",
    createdAt,
  };
}

function transaction(entries: EntryRecord[], at: Date = createdAt): TransactionRecord {
  return {
    id: "t",
    sequence: 9n,
    kind: "POSTED",
    idempotencyScope: "service:payments",
    idempotencyKey: "k",
    requestHash: Buffer.alloc(32),
    reference: "",
    metadata: {},
    pendingTransactionId: null,
    timeoutAt: null,
    voidReason: "",
    createdBy: "payments",
    previousHash: Buffer.alloc(32),
    hash: Buffer.alloc(32, 1),
    createdAt: at,
    entries,
  };
}

describe("postings and transaction messages", () => {
  const paired = [entry(0, "DEBIT", "a", 5n), entry(0, "CREDIT", "b", 5n), entry(1, "DEBIT", "b", 2n), entry(1, "CREDIT", "c", 2n)];

  it("reads the same postings from entries in pairs and in any other order", () => {
    assert.ok(isPairedInOrder(paired));
    const shuffled = [paired[3], paired[0], paired[2], paired[1]] as EntryRecord[];
    assert.ok(!isPairedInOrder(shuffled));
    assert.deepEqual(postingsOf(paired), postingsOf(shuffled));
    assert.deepEqual(
      postingsOf(paired).map((posting) => [posting.postingIndex, posting.debitAccountId, posting.creditAccountId, posting.amount]),
      [
        [0, "a", "b", 5n],
        [1, "b", "c", 2n],
      ],
    );
  });

  it("takes the general path, and its refusal, for entries that are not balanced pairs", () => {
    assert.ok(!isPairedInOrder([entry(0, "DEBIT", "a", 5n), entry(0, "CREDIT", "b", 4n)]));
    assert.throws(() => postingsOf([entry(0, "DEBIT", "a", 5n), entry(0, "CREDIT", "b", 4n)]), /not one balanced debit and credit/);
    assert.ok(!isPairedInOrder([entry(0, "DEBIT", "a", 0n), entry(0, "CREDIT", "b", 0n)]));
    assert.throws(() => postingsOf([entry(0, "DEBIT", "a", 0n), entry(0, "CREDIT", "b", 0n)]), /not one balanced debit and credit/);
    assert.ok(
      !isPairedInOrder([entry(1, "DEBIT", "a", 1n), entry(1, "CREDIT", "b", 1n), entry(0, "DEBIT", "a", 1n), entry(0, "CREDIT", "b", 1n)]),
    );
  });

  it("stamps each message with its own commit time, also after a Date changed", () => {
    const first = transactionToProto(transaction(paired), null);
    assert.equal(timestampDate(first.createdAt as never).getTime(), createdAt.getTime());
    const changing = new Date(createdAt.getTime());
    const before = transactionToProto(transaction(paired, changing), null);
    changing.setTime(createdAt.getTime() + 1000);
    const after = transactionToProto(transaction(paired, changing), null);
    assert.equal(timestampDate(before.createdAt as never).getTime(), createdAt.getTime());
    assert.equal(timestampDate(after.createdAt as never).getTime(), createdAt.getTime() + 1000);
    const other = transactionToProto(transaction(paired, new Date(0)), null);
    assert.equal(timestampDate(other.createdAt as never).getTime(), 0);
    assert.equal(first.postings?.length, 2);
  });
});
