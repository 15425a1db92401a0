// Goal: moving money through the real ledger process over gRPC —
// PostTransaction (multi-posting, replay, conflicting key, insufficient funds,
// unknown accounts, currency mismatch, malformed input), PostTransactions
// (per-item results, atomic batches), the two-phase PostPending (full and
// partial) and VoidPending, pending expiry by the sweeper, and ETH amounts
// beyond 2^64 — each refusal with the right code, naming the field, and
// changing nothing.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { LedgerService } from "@trustmesh/api";
import { type BadRequest, BadRequestSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import { StatusSchema } from "@trustmesh/api/google/rpc/status_pb.js";
import { PendingStatus, RejectionReason, TransactionKind } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import { balanceOf, createWallet, posting, systemAccount, transfer } from "./support/fixtures.ts";
import { assertGrpcError, type LedgerPlatform, startLedgerPlatform } from "./support/ledger-platform.ts";

const methods = LedgerService.method;

describe("ledger postings over gRPC", function () {
  this.timeout(120_000);
  let platform: LedgerPlatform;
  let payments: string;
  let world: string;
  let fees: string;

  /** A wallet holding `amount` minor units of USD, funded from the sandbox rail. */
  async function fundedWallet(amount: bigint, currency = "USD"): Promise<string> {
    const wallet = await createWallet(platform, payments, randomUUID(), currency);
    const source = currency === "USD" ? world : await systemAccount(platform, payments, "system:external:sandbox", currency);
    if (amount > 0n) await transfer(platform, payments, [posting(source, wallet, currency, amount)]);
    return wallet;
  }

  before(async () => {
    // A fast sweeper, so expiry is seen within the test.
    platform = await startLedgerPlatform({ env: { LEDGER_PENDING_SWEEP_INTERVAL_MS: "100" } });
    payments = await platform.serviceToken("payments");
    world = await systemAccount(platform, payments, "system:external:sandbox", "USD");
    fees = await systemAccount(platform, payments, "system:fee_revenue", "USD");
  });

  after(async () => {
    await platform?.stop();
  });

  it("commits a payment with a fee as one transaction of two postings, and replays it under its key", async () => {
    const alice = await fundedWallet(10_000n);
    const bob = await fundedWallet(0n);
    const key = `payment:${randomUUID()}:settle`;
    const request = {
      transaction: {
        idempotencyKey: key,
        postings: [posting(alice, bob, "USD", 2_500n), posting(alice, fees, "USD", 25n)],
        reference: "payment-1",
        metadata: { payment_id: "payment-1" },
      },
    };
    const first = await platform.call(methods.postTransaction, request, payments);
    assert.equal(first.replayed, false);
    const transaction = first.transaction;
    assert.ok(transaction);
    assert.equal(transaction.kind, TransactionKind.POSTED);
    assert.equal(transaction.postings.length, 2);
    assert.equal(transaction.createdBy, "payments");
    assert.equal(transaction.hash.length, 32);
    assert.deepEqual(transaction.metadata, { payment_id: "payment-1" });
    assert.equal((await balanceOf(platform, payments, alice)).postedMinor, "7475");
    assert.equal((await balanceOf(platform, payments, bob)).postedMinor, "2500");

    const replay = await platform.call(methods.postTransaction, request, payments);
    assert.equal(replay.replayed, true);
    assert.equal(replay.transaction?.id, transaction.id);
    assert.equal(replay.transaction?.sequence, transaction.sequence);
    assert.equal((await balanceOf(platform, payments, alice)).postedMinor, "7475", "the replay moved nothing");

    const changed = { transaction: { ...request.transaction, postings: [posting(alice, bob, "USD", 2_501n)] } };
    const conflict = await assertGrpcError(
      platform.call(methods.postTransaction, changed, payments),
      status.ALREADY_EXISTS,
      /idempotency_key/,
    );
    assert.match(conflict.details, /different request/);
    assert.equal((await balanceOf(platform, payments, bob)).postedMinor, "2500");
  });

  it("refuses to overdraw a wallet with FAILED_PRECONDITION, and moves nothing", async () => {
    const alice = await fundedWallet(100n);
    const bob = await fundedWallet(0n);
    const refused = await assertGrpcError(
      transfer(platform, payments, [posting(alice, bob, "USD", 101n)]),
      status.FAILED_PRECONDITION,
      /insufficient available funds/,
    );
    assert.equal(refused.metadata.get("grpc-status-details-bin").length, 1);
    const [aliceBalance, bobBalance] = await Promise.all([balanceOf(platform, payments, alice), balanceOf(platform, payments, bob)]);
    assert.equal(aliceBalance.postedMinor, "100");
    assert.equal(bobBalance.postedMinor, "0");
  });

  it("names the posting field of an unknown account (NOT_FOUND) and of a currency mismatch (INVALID_ARGUMENT)", async () => {
    const alice = await fundedWallet(100n);
    const euros = await fundedWallet(0n, "EUR");
    await assertGrpcError(
      transfer(platform, payments, [posting(alice, randomUUID(), "USD", 1n)]),
      status.NOT_FOUND,
      /transaction\.postings\[0\]\.credit_account_id/,
    );
    await assertGrpcError(
      transfer(platform, payments, [posting(world, alice, "USD", 1n), posting(alice, euros, "USD", 1n)]),
      status.INVALID_ARGUMENT,
      /transaction\.postings\[1\]\.amount\.currency/,
    );
    assert.equal((await balanceOf(platform, payments, alice)).postedMinor, "100");
  });

  it("refuses malformed transactions with INVALID_ARGUMENT naming the field", async () => {
    const alice = await fundedWallet(100n);
    const good = { idempotencyKey: "k1", postings: [posting(world, alice, "USD", 1n)] };
    const cases: [object, RegExp][] = [
      [{ ...good, postings: [] }, /postings/],
      [{ ...good, postings: [posting(world, alice, "USD", 0n)] }, /amount/],
      [{ ...good, postings: [posting(world, alice, "USD", "-1")] }, /amount_minor/],
      [{ ...good, postings: [posting(world, alice, "USD", "1.5")] }, /amount_minor/],
      [{ ...good, postings: [posting(world, alice, "USD", "1".repeat(79))] }, /amount_minor/],
      [{ ...good, postings: [posting(alice, alice, "USD", 1n)] }, /must differ/],
      [{ ...good, postings: [posting(world, "not-a-uuid", "USD", 1n)] }, /credit_account_id/],
      [{ ...good, postings: [posting(world, alice, "XRP", 1n)] }, /currency/],
      [{ ...good, idempotencyKey: "" }, /idempotency_key/],
      [{ ...good, pending: true }, /pending_timeout/],
      [{ ...good, pendingTimeout: { seconds: 10n } }, /pending_timeout/],
      [{ ...good, pending: true, pendingTimeout: { seconds: 8_000_000n } }, /pending_timeout/],
      [{ ...good, reference: "bad reference" }, /reference/],
      [{ ...good, postings: Array.from({ length: 33 }, () => posting(world, alice, "USD", 1n)) }, /postings/],
    ];
    for (const [transaction, field] of cases) {
      await assertGrpcError(platform.call(methods.postTransaction, { transaction }, payments), status.INVALID_ARGUMENT, field);
    }
    await assertGrpcError(platform.call(methods.postTransaction, {}, payments), status.INVALID_ARGUMENT, /transaction/);
    assert.equal((await balanceOf(platform, payments, alice)).postedMinor, "100");
  });

  it("posts ETH amounts above 2^64 minor units exactly", async () => {
    const eth = await systemAccount(platform, payments, "system:external:sandbox", "ETH");
    const whale = await createWallet(platform, payments, randomUUID(), "ETH");
    const other = await createWallet(platform, payments, randomUUID(), "ETH");
    const deposit = 2n ** 64n * 1000n + 123_456_789n; // about 18.4 ETH × 1000
    const sent = 2n ** 64n + 1n;
    await transfer(platform, payments, [posting(eth, whale, "ETH", deposit)]);
    const moved = await transfer(platform, payments, [posting(whale, other, "ETH", sent)]);
    assert.equal(moved.postings[0]?.amount?.amountMinor, sent.toString());
    const [whaleBalance, otherBalance, worldBalance] = await Promise.all([
      balanceOf(platform, payments, whale),
      balanceOf(platform, payments, other),
      balanceOf(platform, payments, eth),
    ]);
    assert.equal(whaleBalance.postedMinor, (deposit - sent).toString());
    assert.equal(whaleBalance.creditsPosted?.amountMinor, deposit.toString());
    assert.equal(otherBalance.postedMinor, sent.toString());
    assert.equal(worldBalance.postedMinor, (-deposit).toString());
    const stored = await platform.sql<{ amount: string }>("SELECT amount::text FROM ledger_entry WHERE transaction_id = $1", [moved.id]);
    assert.deepEqual(
      stored.map((row) => row.amount),
      [sent.toString(), sent.toString()],
    );
  });

  it("commits a batch item by item with one result each, or an atomic batch all or nothing", async () => {
    const alice = await fundedWallet(100n);
    const bob = await fundedWallet(0n);
    const items = [
      { idempotencyKey: `b1-${randomUUID()}`, postings: [posting(alice, bob, "USD", 60n)] },
      { idempotencyKey: `b2-${randomUUID()}`, postings: [posting(alice, bob, "USD", 60n)] },
      { idempotencyKey: `b3-${randomUUID()}`, postings: [posting(alice, randomUUID(), "USD", 1n)] },
      { idempotencyKey: `b4-${randomUUID()}`, postings: [posting(bob, alice, "USD", 10n)] },
    ];
    const response = await platform.call(methods.postTransactions, { transactions: items }, payments);
    assert.deepEqual(
      response.results.map((result) => [
        result.index,
        result.outcome.case,
        result.outcome.case === "rejection" ? RejectionReason[result.outcome.value.reason] : "",
      ]),
      [
        [0, "transaction", ""],
        [1, "rejection", "INSUFFICIENT_FUNDS"],
        [2, "rejection", "ACCOUNT_NOT_FOUND"],
        [3, "transaction", ""],
      ],
    );
    assert.equal((await balanceOf(platform, payments, alice)).postedMinor, "50");
    const replay = await platform.call(methods.postTransactions, { transactions: [items[0] as (typeof items)[0]] }, payments);
    assert.equal(replay.results[0]?.replayed, true);

    const atomic = await platform.call(
      methods.postTransactions,
      {
        atomic: true,
        transactions: [
          { idempotencyKey: `a1-${randomUUID()}`, postings: [posting(alice, bob, "USD", 10n)] },
          { idempotencyKey: `a2-${randomUUID()}`, postings: [posting(alice, bob, "USD", 1_000n)] },
        ],
      },
      payments,
    );
    assert.deepEqual(
      atomic.results.map((result) => (result.outcome.case === "rejection" ? RejectionReason[result.outcome.value.reason] : "committed")),
      ["BATCH_ABORTED", "INSUFFICIENT_FUNDS"],
    );
    assert.equal((await balanceOf(platform, payments, alice)).postedMinor, "50", "the atomic batch moved nothing");
  });

  it("refuses malformed batches: duplicate keys, no items, too many items", async () => {
    const alice = await fundedWallet(0n);
    const item = { idempotencyKey: "same", postings: [posting(world, alice, "USD", 1n)] };
    await assertGrpcError(
      platform.call(methods.postTransactions, { transactions: [item, item] }, payments),
      status.INVALID_ARGUMENT,
      /unique/,
    );
    await assertGrpcError(platform.call(methods.postTransactions, { transactions: [] }, payments), status.INVALID_ARGUMENT, /transactions/);
    const many = Array.from({ length: 1001 }, (_, index) => ({ ...item, idempotencyKey: `k${index}` }));
    await assertGrpcError(
      platform.call(methods.postTransactions, { transactions: many }, payments),
      status.INVALID_ARGUMENT,
      /transactions/,
    );
    assert.equal((await balanceOf(platform, payments, alice)).postedMinor, "0");
  });

  it("names each bad item deep in a full batch by its path and rule, and commits none of the batch", async () => {
    const alice = await fundedWallet(0n);
    const items = Array.from({ length: 1000 }, (_, index) => ({
      idempotencyKey: `deep-${index}-${randomUUID()}`,
      postings: [posting(world, alice, "USD", 1n)],
    }));
    items[737] = { ...(items[737] as (typeof items)[number]), postings: [posting(alice, alice, "USD", 1n)] };
    items[912] = { ...(items[912] as (typeof items)[number]), postings: [posting(world, alice, "USD", 0n)] };
    const error = await assertGrpcError(
      platform.call(methods.postTransactions, { transactions: items }, payments),
      status.INVALID_ARGUMENT,
      /^transactions\[737\]\.postings\[0\]: debit_account_id and credit_account_id must differ \[posting\.distinct_accounts\], and 1 more violation$/,
    );
    const [details] = error.metadata.get("grpc-status-details-bin") as Buffer[];
    // Every violation, in the standard google.rpc.BadRequest detail beside the message.
    const violations = fromBinary(StatusSchema, details as Buffer)
      .details.filter((detail) => anyIs(detail, BadRequestSchema))
      .flatMap((detail) => (anyUnpack(detail, BadRequestSchema) as BadRequest).fieldViolations)
      .map((violation) => [violation.field, violation.reason, violation.description]);
    assert.deepEqual(violations, [
      ["transactions[737].postings[0]", "posting.distinct_accounts", "debit_account_id and credit_account_id must differ"],
      ["transactions[912].postings[0].amount", "posting.amount_positive", "amount must be greater than zero"],
    ]);
    assert.equal((await balanceOf(platform, payments, alice)).postedMinor, "0");
  });

  it("reserves with a pending transaction and posts part of it, releasing the rest", async () => {
    const alice = await fundedWallet(1_000n);
    const bob = await fundedWallet(0n);
    const pending = await transfer(platform, payments, [posting(alice, bob, "USD", 400n), posting(alice, fees, "USD", 4n)], {
      pending: true,
      timeoutSeconds: 600,
    });
    assert.equal(pending.kind, TransactionKind.PENDING);
    assert.equal(pending.pendingStatus, PendingStatus.OPEN);
    const reserved = await balanceOf(platform, payments, alice);
    assert.deepEqual(
      [reserved.postedMinor, reserved.pendingMinor, reserved.availableMinor, reserved.debitsPending?.amountMinor],
      ["1000", "-404", "596", "404"],
    );
    const bobReserved = await balanceOf(platform, payments, bob);
    assert.deepEqual([bobReserved.postedMinor, bobReserved.availableMinor, bobReserved.pendingMinor], ["0", "0", "400"]);

    const request = {
      pendingTransactionId: pending.id,
      idempotencyKey: `post-${pending.id}`,
      amounts: [
        { currency: "USD", amountMinor: "300" },
        { currency: "USD", amountMinor: "3" },
      ],
    };
    const posted = await platform.call(methods.postPending, request, payments);
    assert.equal(posted.transaction?.kind, TransactionKind.POST_PENDING);
    assert.equal(posted.transaction?.pendingTransactionId, pending.id);
    assert.equal(posted.pendingTransaction?.pendingStatus, PendingStatus.POSTED);
    const after = await balanceOf(platform, payments, alice);
    assert.deepEqual([after.postedMinor, after.pendingMinor, after.availableMinor], ["697", "0", "697"]);
    assert.equal((await balanceOf(platform, payments, bob)).postedMinor, "300");

    const replay = await platform.call(methods.postPending, request, payments);
    assert.equal(replay.replayed, true);
    assert.equal(replay.transaction?.id, posted.transaction?.id);
    assert.equal(replay.pendingTransaction?.pendingStatus, PendingStatus.POSTED);
    await assertGrpcError(
      platform.call(methods.postPending, { pendingTransactionId: pending.id, idempotencyKey: `again-${pending.id}` }, payments),
      status.FAILED_PRECONDITION,
      /already posted/,
    );
  });

  it("posts a pending transaction in full when no amounts are given", async () => {
    const alice = await fundedWallet(50n);
    const bob = await fundedWallet(0n);
    const pending = await transfer(platform, payments, [posting(alice, bob, "USD", 50n)], { pending: true });
    const posted = await platform.call(
      methods.postPending,
      { pendingTransactionId: pending.id, idempotencyKey: `full-${pending.id}` },
      payments,
    );
    assert.equal(posted.transaction?.postings[0]?.amount?.amountMinor, "50");
    assert.equal((await balanceOf(platform, payments, bob)).availableMinor, "50");
  });

  it("refuses bad PostPending input with the right code and field", async () => {
    const alice = await fundedWallet(50n);
    const bob = await fundedWallet(0n);
    const pending = await transfer(platform, payments, [posting(alice, bob, "USD", 50n)], { pending: true });
    const base = { pendingTransactionId: pending.id, idempotencyKey: `bad-${pending.id}` };
    const usd = (amountMinor: string) => ({ currency: "USD", amountMinor });
    await assertGrpcError(
      platform.call(methods.postPending, { ...base, amounts: [usd("51")] }, payments),
      status.INVALID_ARGUMENT,
      /amounts\[0\]/,
    );
    await assertGrpcError(
      platform.call(methods.postPending, { ...base, amounts: [usd("1"), usd("1")] }, payments),
      status.INVALID_ARGUMENT,
      /amounts/,
    );
    await assertGrpcError(
      platform.call(methods.postPending, { ...base, amounts: [usd("0")] }, payments),
      status.INVALID_ARGUMENT,
      /amounts: posting nothing/,
    );
    await assertGrpcError(
      platform.call(methods.postPending, { ...base, amounts: [{ currency: "EUR", amountMinor: "1" }] }, payments),
      status.INVALID_ARGUMENT,
      /amounts\[0\]\.currency/,
    );
    await assertGrpcError(
      platform.call(methods.postPending, { ...base, pendingTransactionId: randomUUID() }, payments),
      status.NOT_FOUND,
      /pending_transaction_id/,
    );
    const posted = await transfer(platform, payments, [posting(world, alice, "USD", 1n)]);
    await assertGrpcError(
      platform.call(methods.postPending, { ...base, pendingTransactionId: posted.id }, payments),
      status.NOT_FOUND,
      /not pending/,
    );
    await assertGrpcError(
      platform.call(methods.postPending, { ...base, pendingTransactionId: "x" }, payments),
      status.INVALID_ARGUMENT,
      /pending_transaction_id/,
    );
    await assertGrpcError(
      platform.call(methods.postPending, { ...base, idempotencyKey: "" }, payments),
      status.INVALID_ARGUMENT,
      /idempotency_key/,
    );
    const untouched = await balanceOf(platform, payments, alice);
    assert.deepEqual([untouched.postedMinor, untouched.availableMinor], ["51", "1"]);
  });

  it("voids a pending transaction once, releasing the reservation", async () => {
    const alice = await fundedWallet(80n);
    const bob = await fundedWallet(0n);
    const pending = await transfer(platform, payments, [posting(alice, bob, "USD", 80n)], { pending: true });
    assert.equal((await balanceOf(platform, payments, alice)).availableMinor, "0");
    const request = { pendingTransactionId: pending.id, idempotencyKey: `void-${pending.id}`, reason: "customer cancelled" };
    const voided = await platform.call(methods.voidPending, request, payments);
    assert.equal(voided.transaction?.kind, TransactionKind.VOID_PENDING);
    assert.equal(voided.transaction?.voidReason, "customer cancelled");
    assert.equal(voided.pendingTransaction?.pendingStatus, PendingStatus.VOIDED);
    const after = await balanceOf(platform, payments, alice);
    assert.deepEqual([after.postedMinor, after.availableMinor, after.pendingMinor], ["80", "80", "0"]);
    assert.equal((await platform.call(methods.voidPending, request, payments)).replayed, true);
    await assertGrpcError(
      platform.call(methods.voidPending, { ...request, idempotencyKey: `void-again-${pending.id}` }, payments),
      status.FAILED_PRECONDITION,
      /already voided/,
    );
    await assertGrpcError(
      platform.call(methods.postPending, { pendingTransactionId: pending.id, idempotencyKey: `post-${pending.id}` }, payments),
      status.FAILED_PRECONDITION,
      /already voided/,
    );
    await assertGrpcError(
      platform.call(methods.voidPending, { ...request, reason: "x".repeat(257) }, payments),
      status.INVALID_ARGUMENT,
      /reason/,
    );
    await assertGrpcError(
      platform.call(methods.voidPending, { ...request, pendingTransactionId: randomUUID(), idempotencyKey: "void-nothing" }, payments),
      status.NOT_FOUND,
    );
  });

  it("voids a pending transaction itself once its timeout passed; it can then no longer be posted", async () => {
    const alice = await fundedWallet(30n);
    const bob = await fundedWallet(0n);
    const pending = await transfer(platform, payments, [posting(alice, bob, "USD", 30n)], { pending: true, timeoutSeconds: 1 });
    assert.equal((await balanceOf(platform, payments, alice)).availableMinor, "0");
    let entries: Awaited<ReturnType<typeof listExpiries>> = [];
    const listExpiries = async () =>
      (await platform.call(methods.listEntries, { accountId: alice, kinds: [TransactionKind.EXPIRE_PENDING] }, payments)).entries;
    for (let attempt = 0; attempt < 50 && entries.length === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      entries = await listExpiries();
    }
    assert.equal(entries.length, 1, "the sweeper expired it");
    const expiry = entries[0];
    assert.ok(expiry);
    const expiredTransaction = await platform.sql<{ created_by: string; pending_transaction_id: string }>(
      "SELECT created_by, pending_transaction_id FROM ledger_transaction WHERE id = $1",
      [expiry.transactionId],
    );
    assert.deepEqual(expiredTransaction, [{ created_by: "ledger", pending_transaction_id: pending.id }]);
    assert.equal((await balanceOf(platform, payments, alice)).availableMinor, "30");
    await assertGrpcError(
      platform.call(methods.postPending, { pendingTransactionId: pending.id, idempotencyKey: `late-${pending.id}` }, payments),
      status.FAILED_PRECONDITION,
      /expired/,
    );
  });
});
