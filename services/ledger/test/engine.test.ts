// Goal: the engine decides batches the way the ledger promises — balanced
// entries, flags enforced per transaction, atomic jobs all-or-nothing, keys
// effective once (replay vs conflict, within a batch too), two-phase post /
// partial post / void / expiry with the reservation released exactly once,
// NUMERIC(78,0) overflow refused — and every plan links onto the chain head.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { genesisHash, transactionHash } from "../src/domain/chain.ts";
import {
  type BatchInputs,
  type Job,
  type Operation,
  type Outcome,
  planBatch,
  type ResolveOperation,
  type TransferOperation,
} from "../src/domain/engine.ts";
import { amountMinorMax, type Currency } from "../src/domain/money.ts";
import type { AccountRecord, BalanceRecord, TransactionKindName, TransactionRecord } from "../src/domain/records.ts";

function account(id: string, currency: Currency, flags: Partial<AccountRecord> = {}): AccountRecord {
  return {
    id,
    ownerId: null,
    currency,
    kind: "SETTLEMENT",
    debitsMustNotExceedCredits: false,
    creditsMustNotExceedDebits: false,
    address: null,
    metadata: {},
    createdAt: new Date(0),
    ...flags,
  };
}

function hashOf(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function transfer(key: string, postings: [string, string, bigint][], options: Partial<TransferOperation> = {}): TransferOperation {
  return {
    type: "transfer",
    scope: "service:payments",
    createdBy: "payments",
    idempotencyKey: key,
    requestHash: hashOf(`${key}:${JSON.stringify(postings.map(([d, c, a]) => [d, c, String(a)]))}`),
    metadata: {},
    postings: postings.map(([debitAccountId, creditAccountId, amount]) => ({ debitAccountId, creditAccountId, currency: "USD", amount })),
    pending: false,
    pendingTimeoutMs: undefined,
    reference: "",
    ...options,
  };
}

function resolve(key: string, action: ResolveOperation["action"], pendingTransactionId: string, amounts?: bigint[]): ResolveOperation {
  return {
    type: "resolve",
    action,
    scope: "service:payments",
    createdBy: "payments",
    idempotencyKey: key,
    requestHash: hashOf(`${key}:${action}:${amounts?.join(",")}`),
    metadata: {},
    pendingTransactionId,
    amounts,
    amountCurrencies: amounts?.map(() => "USD"),
    voidReason: "",
  };
}

const world = "00000000-0000-4000-8000-000000000001";
const alice = "00000000-0000-4000-8000-000000000002";
const bob = "00000000-0000-4000-8000-000000000003";
const euro = "00000000-0000-4000-8000-000000000004";

/** A small ledger: an unbounded outside world and two wallets that cannot go negative. */
function ledger(balances: Record<string, Partial<BalanceRecord>> = {}) {
  const accounts = new Map([
    [world, account(world, "USD")],
    [alice, account(alice, "USD", { kind: "USER_WALLET", debitsMustNotExceedCredits: true })],
    [bob, account(bob, "USD", { kind: "USER_WALLET", debitsMustNotExceedCredits: true })],
    [euro, account(euro, "EUR", { kind: "USER_WALLET", debitsMustNotExceedCredits: true })],
  ]);
  const stored = new Map<string, BalanceRecord>(
    [...accounts.keys()].map((id) => [
      id,
      { accountId: id, debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n, lastSequence: 0n, ...balances[id] },
    ]),
  );
  let head = { sequence: 0n, hash: genesisHash, createdAt: new Date(0) };
  const committed = new Map<string, TransactionRecord>();
  const keys = new Map<string, { transactionId: string; requestHash: Buffer }>();
  const resolutions = new Map<string, TransactionKindName>();
  /** Plans a batch against the current state and applies it, as the store would. */
  const run = (jobs: Job[], now = new Date(1_000_000)) => {
    const inputs: BatchInputs = {
      accounts,
      balances: stored,
      existingKeys: keys,
      pendings: committed,
      resolutions,
      head,
      now,
      newId: randomUUID,
    };
    const plan = planBatch(jobs, inputs);
    for (const balance of plan.changedBalances) stored.set(balance.accountId, balance);
    for (const transaction of plan.transactions) {
      committed.set(transaction.id, transaction);
      keys.set(`${transaction.idempotencyScope}\u0000${transaction.idempotencyKey}`, {
        transactionId: transaction.id,
        requestHash: transaction.requestHash,
      });
      if (transaction.pendingTransactionId) resolutions.set(transaction.pendingTransactionId, transaction.kind);
    }
    head = plan.head;
    return plan;
  };
  const one = (operation: Operation, now?: Date): Outcome =>
    run([{ operations: [operation], atomic: false }], now).outcomes[0]?.[0] as Outcome;
  return { run, one, balance: (id: string) => stored.get(id) as BalanceRecord, head: () => head };
}

function committedTransaction(outcome: Outcome): TransactionRecord {
  if (outcome.status !== "committed") assert.fail(`expected a commit, got ${inspect(outcome)}`);
  return outcome.transaction;
}

function rejectionOf(outcome: Outcome) {
  assert.equal(outcome.status, "rejected", `expected a rejection, got ${outcome.status}`);
  return (outcome as { rejection: { reason: string; postingIndex?: number; accountId?: string } }).rejection;
}

describe("ledger engine", () => {
  it("commits a transfer as one debit and one credit entry with running balances, linked to the chain", () => {
    const book = ledger();
    const transaction = committedTransaction(book.one(transfer("k1", [[world, alice, 500n]])));
    assert.equal(transaction.sequence, 1n);
    assert.ok(transaction.previousHash.equals(genesisHash));
    assert.ok(transaction.hash.equals(transactionHash(genesisHash, transaction)));
    assert.deepEqual(
      transaction.entries.map((entry) => [entry.accountId, entry.direction, entry.amount, entry.postedBalanceAfter, entry.sequence]),
      [
        [world, "DEBIT", 500n, -500n, 1n],
        [alice, "CREDIT", 500n, 500n, 1n],
      ],
    );
    assert.equal(book.balance(alice).creditsPosted, 500n);
    assert.equal(book.balance(alice).lastSequence, 1n);
    const second = committedTransaction(book.one(transfer("k2", [[alice, bob, 200n]])));
    assert.ok(second.previousHash.equals(transaction.hash));
    assert.equal(book.head().sequence, 2n);
  });

  it("refuses to overdraw a wallet and leaves every balance untouched", () => {
    const book = ledger({ [alice]: { creditsPosted: 100n } });
    const rejection = rejectionOf(book.one(transfer("k1", [[alice, bob, 101n]])));
    assert.equal(rejection.reason, "INSUFFICIENT_FUNDS");
    assert.equal(rejection.accountId, alice);
    assert.equal(book.balance(alice).debitsPosted, 0n);
    assert.equal(book.balance(bob).creditsPosted, 0n);
    assert.equal(book.head().sequence, 0n);
  });

  it("names the last posting that debits an overdrawn wallet, and posting 0 for a wallet only credited", () => {
    const book = ledger({ [alice]: { creditsPosted: 10n } });
    const overdrawn = rejectionOf(
      book.one(
        transfer("k1", [
          [alice, bob, 6n],
          [world, bob, 1n],
          [alice, world, 6n],
          [world, alice, 1n],
        ]),
      ),
    );
    assert.deepEqual([overdrawn.reason, overdrawn.postingIndex, overdrawn.accountId], ["INSUFFICIENT_FUNDS", 2, alice]);
    const book2 = ledger({ [bob]: { debitsPosted: 5n, creditsPosted: 5n } });
    const flagged = new Map([[bob, { ...account(bob, "USD"), creditsMustNotExceedDebits: true }]]);
    const plan = planBatch([{ operations: [transfer("k2", [[world, bob, 1n]])], atomic: false }], {
      accounts: new Map([[world, account(world, "USD")], ...flagged]),
      balances: new Map([
        [world, { accountId: world, debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n, lastSequence: 0n }],
        [bob, book2.balance(bob)],
      ]),
      existingKeys: new Map(),
      pendings: new Map(),
      resolutions: new Map(),
      head: { sequence: 0n, hash: genesisHash, createdAt: new Date(0) },
      now: new Date(1),
      newId: randomUUID,
    });
    const credited = rejectionOf(plan.outcomes[0]?.[0] as Outcome);
    assert.deepEqual([credited.reason, credited.postingIndex, credited.accountId], ["CREDITS_EXCEED_DEBITS", 0, bob]);
  });

  it("judges flags on the transaction as a whole: a wallet may pass money on within one transaction", () => {
    const book = ledger();
    committedTransaction(
      book.one(
        transfer("k1", [
          [world, alice, 100n],
          [alice, bob, 100n],
        ]),
      ),
    );
    assert.equal(book.balance(bob).creditsPosted, 100n);
  });

  it("names unknown accounts and currency mismatches by posting", () => {
    const book = ledger();
    const missing = randomUUID();
    const notFound = rejectionOf(book.one(transfer("k1", [[world, missing, 1n]])));
    assert.deepEqual([notFound.reason, notFound.postingIndex, notFound.accountId], ["ACCOUNT_NOT_FOUND", 0, missing]);
    const mismatch = rejectionOf(
      book.one(
        transfer("k2", [
          [world, alice, 1n],
          [world, euro, 1n],
        ]),
      ),
    );
    assert.deepEqual([mismatch.reason, mismatch.postingIndex, mismatch.accountId], ["CURRENCY_MISMATCH", 1, euro]);
  });

  it("replays the same key and body, refuses the same key with another body, within one batch and across batches", () => {
    const book = ledger();
    const first = transfer("same", [[world, alice, 5n]]);
    const other = transfer("same", [[world, alice, 6n]]);
    const plan = book.run([
      { operations: [first], atomic: false },
      { operations: [first], atomic: false },
      { operations: [other], atomic: false },
    ]);
    const committed = committedTransaction(plan.outcomes[0]?.[0] as Outcome);
    assert.deepEqual(plan.outcomes[1]?.[0], { status: "replayed", transactionId: committed.id });
    assert.equal(rejectionOf(plan.outcomes[2]?.[0] as Outcome).reason, "IDEMPOTENCY_CONFLICT");
    assert.deepEqual(book.one(first), { status: "replayed", transactionId: committed.id });
    assert.equal(rejectionOf(book.one(other)).reason, "IDEMPOTENCY_CONFLICT");
    assert.equal(book.balance(alice).creditsPosted, 5n, "the key took effect once");
  });

  it("judges a key afresh after a rejection, because a rejection stores nothing", () => {
    const book = ledger();
    const attempt = transfer("retry", [[alice, bob, 10n]]);
    assert.equal(rejectionOf(book.one(attempt)).reason, "INSUFFICIENT_FUNDS");
    committedTransaction(book.one(transfer("fund", [[world, alice, 10n]])));
    committedTransaction(book.one(attempt));
  });

  it("commits an atomic job all or nothing, and other jobs of the same batch regardless", () => {
    const book = ledger();
    const plan = book.run([
      { operations: [transfer("a1", [[world, alice, 10n]]), transfer("a2", [[bob, alice, 1n]])], atomic: true },
      { operations: [transfer("b1", [[world, bob, 7n]])], atomic: false },
    ]);
    assert.equal(rejectionOf(plan.outcomes[0]?.[0] as Outcome).reason, "BATCH_ABORTED");
    assert.equal(rejectionOf(plan.outcomes[0]?.[1] as Outcome).reason, "INSUFFICIENT_FUNDS");
    committedTransaction(plan.outcomes[1]?.[0] as Outcome);
    assert.equal(book.balance(alice).creditsPosted, 0n);
    assert.equal(book.balance(bob).creditsPosted, 7n);
    assert.equal(plan.transactions.length, 1);
    assert.equal(plan.transactions[0]?.sequence, 1n, "aborted work takes no sequence numbers");
  });

  it("reserves with a pending transfer, then posts part of it and releases the rest", () => {
    const book = ledger({ [alice]: { creditsPosted: 100n } });
    const pending = committedTransaction(book.one(transfer("p", [[alice, bob, 60n]], { pending: true, pendingTimeoutMs: 60_000 })));
    assert.deepEqual(pending.timeoutAt, new Date(1_060_000));
    assert.equal(book.balance(alice).debitsPending, 60n);
    assert.equal(book.balance(alice).debitsPosted, 0n, "pending does not change the posted balance");
    assert.equal(
      rejectionOf(book.one(transfer("spend", [[alice, bob, 41n]]))).reason,
      "INSUFFICIENT_FUNDS",
      "reserved funds are not available",
    );
    const posted = committedTransaction(book.one(resolve("post", "post", pending.id, [25n])));
    assert.equal(posted.kind, "POST_PENDING");
    assert.deepEqual(
      posted.entries.map((entry) => [entry.accountId, entry.amount]),
      [
        [alice, 25n],
        [bob, 25n],
      ],
    );
    assert.deepEqual(
      [
        book.balance(alice).debitsPosted,
        book.balance(alice).debitsPending,
        book.balance(bob).creditsPosted,
        book.balance(bob).creditsPending,
      ],
      [25n, 0n, 25n, 0n],
    );
    assert.equal(rejectionOf(book.one(resolve("again", "void", pending.id))).reason, "PENDING_ALREADY_POSTED");
  });

  it("refuses to post more than was reserved, or in another currency", () => {
    const book = ledger({ [alice]: { creditsPosted: 100n } });
    const pending = committedTransaction(book.one(transfer("p", [[alice, bob, 60n]], { pending: true, pendingTimeoutMs: 60_000 })));
    assert.equal(rejectionOf(book.one(resolve("too-much", "post", pending.id, [61n]))).reason, "AMOUNT_EXCEEDS_PENDING");
    assert.equal(rejectionOf(book.one(resolve("too-many", "post", pending.id, [1n, 1n]))).reason, "AMOUNT_EXCEEDS_PENDING");
    const wrongCurrency = { ...resolve("euro", "post", pending.id, [1n]), amountCurrencies: ["EUR" as Currency] };
    assert.equal(rejectionOf(book.one(wrongCurrency)).reason, "CURRENCY_MISMATCH");
    assert.equal(rejectionOf(book.one(resolve("nothing", "void", randomUUID()))).reason, "PENDING_NOT_FOUND");
  });

  it("voids and expires a reservation once; an expired one can no longer be posted", () => {
    const book = ledger({ [alice]: { creditsPosted: 100n } });
    const voided = committedTransaction(book.one(transfer("p1", [[alice, bob, 30n]], { pending: true, pendingTimeoutMs: 1000 })));
    const expiring = committedTransaction(book.one(transfer("p2", [[alice, bob, 20n]], { pending: true, pendingTimeoutMs: 1000 })));
    committedTransaction(book.one(resolve("v", "void", voided.id)));
    assert.equal(rejectionOf(book.one(resolve("early", "expire", expiring.id))).reason, "PENDING_NOT_FOUND", "not due yet");
    const later = new Date(1_002_000);
    assert.equal(rejectionOf(book.one(resolve("late-post", "post", expiring.id), later)).reason, "PENDING_EXPIRED");
    const expiry = committedTransaction(book.one(resolve("e", "expire", expiring.id), later));
    assert.equal(expiry.kind, "EXPIRE_PENDING");
    assert.deepEqual([book.balance(alice).debitsPending, book.balance(alice).debitsPosted], [0n, 0n]);
    assert.equal(rejectionOf(book.one(resolve("e2", "expire", expiring.id), later)).reason, "PENDING_EXPIRED");
    assert.equal(rejectionOf(book.one(resolve("v2", "void", voided.id))).reason, "PENDING_ALREADY_VOIDED");
  });

  it("refuses a running total beyond NUMERIC(78,0) and posts amounts beyond 2^64 exactly", () => {
    const book = ledger();
    const big = 2n ** 64n + 12_345n;
    committedTransaction(book.one(transfer("big", [[world, alice, big]])));
    assert.equal(book.balance(alice).creditsPosted, big);
    const full = ledger();
    committedTransaction(full.one(transfer("max", [[world, bob, amountMinorMax]])));
    assert.equal(rejectionOf(full.one(transfer("over", [[world, bob, 1n]]))).reason, "AMOUNT_OVERFLOW");
    assert.equal(full.balance(bob).creditsPosted, amountMinorMax);
  });

  it("moves time forward along the chain even when the clock steps back", () => {
    const book = ledger();
    const first = committedTransaction(book.one(transfer("t1", [[world, alice, 1n]]), new Date(5000)));
    const second = committedTransaction(book.one(transfer("t2", [[world, alice, 1n]]), new Date(4000)));
    assert.ok(second.createdAt >= first.createdAt);
  });
});
