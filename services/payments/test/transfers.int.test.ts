// Goal: transfers through the handlers (createRouterTransport, full interceptor
// stack, real Postgres and Redis, the real worker; the ledger and auth's
// directory are doubles): a send by user id, email or phone completes and
// moves amount and fee in the ledger; a send to an address with no account is
// held and claimed after sign-up, or expires back to the sender; refunds are
// partial or full and never exceed what was paid; bad input is refused with
// the right code naming the field and changes nothing; a user cannot read,
// watch, claim or refund another's payment; idempotency keys are per user.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { PaymentFailureReason, PaymentKind, PaymentState, Priority } from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import { rejectsWith } from "./support/expect.ts";
import { type Harness, startHarness } from "./support/harness.ts";

const usd = (amountMinor: string | bigint | number) => ({ currency: "USD", amountMinor: String(amountMinor) });

describe("transfers", function () {
  this.timeout(60_000);
  let harness: Harness;
  const alice = randomUUID();
  const bob = randomUUID();
  const carol = randomUUID();

  before(async () => {
    harness = await startHarness({ claimWindowMs: 1500 });
    harness.auth.addUser(alice, "alice@example.com", "+14155550100");
    harness.auth.addUser(bob, "bob@example.com", "+14155550101");
    harness.auth.addUser(carol, "carol@example.com");
    harness.ledger.fund(alice, "USD", 1_000_00n);
  });

  after(async () => {
    await harness?.close();
  });

  it("quotes a fee by priority and refuses a refund quote", async () => {
    const client = await harness.client(alice);
    const quote = await client.quoteFee({ kind: PaymentKind.TRANSFER, amount: usd(10_000), priority: Priority.EXPRESS });
    // 1% of $100.00 = 100 cents + 25 fixed.
    assert.equal(quote.quote?.fee?.amountMinor, "125");
    assert.equal(quote.quote?.total?.amountMinor, "10125");
    assert.equal(quote.quote?.rule?.rateBasisPoints, 100);
    await assert.rejects(
      client.quoteFee({ kind: PaymentKind.REFUND, amount: usd(100), priority: Priority.EXPRESS }),
      rejectsWith(Code.InvalidArgument, /kind/),
    );
    await assert.rejects(
      client.quoteFee({ kind: PaymentKind.TRANSFER, amount: usd(0), priority: Priority.EXPRESS }),
      rejectsWith(Code.InvalidArgument, /amount/),
    );
  });

  it("sends by user id: the ledger moves amount to the recipient and the fee to fee revenue", async () => {
    const client = await harness.client(alice);
    const sent = await client.sendPayment({
      idempotencyKey: "send-1",
      recipient: { address: { case: "userId", value: bob } },
      amount: usd(2_000),
      priority: Priority.EXPRESS,
      memo: "lunch",
    });
    assert.equal(sent.replayed, false);
    // 1% of 2000 is 20, plus 25 fixed is 45, raised to the 50 minimum.
    assert.equal(sent.payment?.fee?.amountMinor, "50");
    const id = sent.payment?.id ?? "";
    assert.equal(await harness.waitForState(id, ["COMPLETED", "FAILED"]), "COMPLETED");
    const fee = BigInt(sent.payment?.fee?.amountMinor ?? "0");
    const bobWallet = harness.ledger.walletOf(bob, "USD") ?? "";
    assert.equal(harness.ledger.posted(bobWallet), 2_000n);
    assert.equal(harness.ledger.posted(harness.ledger.systemAccount("system:fee_revenue:USD") ?? ""), fee);
    assert.equal(harness.ledger.posted(harness.ledger.walletOf(alice, "USD") ?? ""), 1_000_00n - 2_000n - fee);
    const read = await client.getPayment({ paymentId: id });
    assert.deepEqual(
      read.payment?.history.map((step) => PaymentState[step.toState]),
      ["CREATED", "PROCESSING", "COMPLETED"],
    );
    assert.equal(read.payment?.ledgerTransactionIds.length, 2);
  });

  it("replays a send with the same key and body, refuses the same key with another body, and scopes keys per user", async () => {
    const client = await harness.client(alice);
    const request = {
      idempotencyKey: "send-replay",
      recipient: { address: { case: "userId" as const, value: bob } },
      amount: usd(100),
      priority: Priority.STANDARD,
    };
    const first = await client.sendPayment(request);
    const again = await client.sendPayment(request);
    assert.equal(again.replayed, true);
    assert.equal(again.payment?.id, first.payment?.id);
    await assert.rejects(
      client.sendPayment({ ...request, amount: usd(101) }),
      rejectsWith(Code.AlreadyExists, /idempotency_key/, "IDEMPOTENCY_KEY_REUSED"),
    );
    // Bob may use the same key for his own send: keys are scoped per user.
    harness.ledger.fund(bob, "USD", 500n);
    const bobs = await (await harness.client(bob)).sendPayment({ ...request, recipient: { address: { case: "userId", value: alice } } });
    assert.equal(bobs.replayed, false);
    assert.notEqual(bobs.payment?.id, first.payment?.id);
    const rows = await harness.query<{ count: string }>(
      "SELECT count(*)::text AS count FROM payment WHERE initiator_user_id = $1 AND amount_minor = 100",
      [alice],
    );
    assert.equal(rows[0]?.count, "1");
  });

  it("refuses bad sends naming the field, and changes nothing", async () => {
    const client = await harness.client(alice);
    const before = await harness.query<{ count: string }>("SELECT count(*)::text AS count FROM payment");
    const base = {
      idempotencyKey: "bad",
      recipient: { address: { case: "userId" as const, value: bob } },
      amount: usd(100),
      priority: Priority.STANDARD,
    };
    await assert.rejects(
      client.sendPayment({ ...base, recipient: { address: { case: "userId", value: alice } } }),
      rejectsWith(Code.InvalidArgument, /recipient/),
    );
    await assert.rejects(
      client.sendPayment({ ...base, recipient: { address: { case: "userId", value: randomUUID() } } }),
      rejectsWith(Code.InvalidArgument, /recipient.user_id/, "RECIPIENT_NOT_FOUND"),
    );
    await assert.rejects(
      client.sendPayment({ ...base, recipient: { address: { case: "email", value: "not-an-email" } } }),
      rejectsWith(Code.InvalidArgument, /email/),
    );
    await assert.rejects(
      client.sendPayment({ ...base, amount: { currency: "XYZ", amountMinor: "1" } }),
      rejectsWith(Code.InvalidArgument, /currency/),
    );
    await assert.rejects(client.sendPayment({ ...base, amount: usd("01") }), rejectsWith(Code.InvalidArgument, /amount_minor/));
    await assert.rejects(client.sendPayment({ ...base, priority: Priority.UNSPECIFIED }), rejectsWith(Code.InvalidArgument, /priority/));
    await assert.rejects(client.sendPayment({ ...base, idempotencyKey: "" }), rejectsWith(Code.InvalidArgument, /idempotency_key/));
    await assert.rejects(
      client.sendPayment({ ...base, priority: Priority.INSTANT, maxFee: usd(10) }),
      rejectsWith(Code.FailedPrecondition, /max_fee/, "FEE_ABOVE_MAXIMUM"),
    );
    await assert.rejects(
      client.sendPayment({ ...base, amount: usd(100_000_000) }),
      rejectsWith(Code.ResourceExhausted, /per-transaction limit/, "LIMIT_EXCEEDED"),
    );
    await assert.rejects((await harness.client("anonymous")).sendPayment(base), rejectsWith(Code.Unauthenticated));
    harness.auth.directoryDown = true;
    try {
      await assert.rejects(
        client.sendPayment({ ...base, recipient: { address: { case: "email", value: "bob@example.com" } } }),
        rejectsWith(Code.Unavailable, /directory/),
      );
    } finally {
      harness.auth.directoryDown = false;
    }
    const after = await harness.query<{ count: string }>("SELECT count(*)::text AS count FROM payment");
    assert.equal(after[0]?.count, before[0]?.count);
  });

  it("fails a send the wallet cannot cover and gives its limit usage back", async () => {
    const client = await harness.client(carol);
    const sent = await client.sendPayment({
      idempotencyKey: "broke",
      recipient: { address: { case: "email", value: "BOB@example.com" } },
      amount: usd(500),
      priority: Priority.STANDARD,
    });
    assert.equal(sent.payment?.recipientUserId, bob, "the email resolved to bob");
    assert.equal(await harness.waitForState(sent.payment?.id ?? "", ["COMPLETED", "FAILED"]), "FAILED");
    const read = await client.getPayment({ paymentId: sent.payment?.id ?? "" });
    assert.equal(read.payment?.failureReason, PaymentFailureReason.INSUFFICIENT_FUNDS);
    const limits = await client.getLimits({ currency: "USD" });
    assert.equal(limits.limits[0]?.daily?.used?.amountMinor, "0");
    assert.equal(limits.tier, "standard");
  });

  it("holds a payment to an unknown email, lets its owner claim it after sign-up, and only them", async () => {
    const client = await harness.client(alice);
    const sent = await client.sendPayment({
      idempotencyKey: "claimable",
      recipient: { address: { case: "email", value: "dave@example.com" } },
      amount: usd(700),
      priority: Priority.STANDARD,
    });
    const id = sent.payment?.id ?? "";
    assert.equal(sent.payment?.recipientUserId, "");
    assert.equal(await harness.waitForState(id, ["AWAITING_CLAIM"]), "AWAITING_CLAIM");
    assert.equal(harness.ledger.openPending(), 1);
    const dave = randomUUID();
    // Before dave's email resolves to him, he cannot claim; neither can bob.
    await assert.rejects(
      (await harness.client(dave)).receivePayment({ idempotencyKey: "claim", paymentId: id }),
      rejectsWith(Code.PermissionDenied),
    );
    harness.auth.addUser(dave, "dave@example.com");
    await assert.rejects(
      (await harness.client(bob)).receivePayment({ idempotencyKey: "claim", paymentId: id }),
      rejectsWith(Code.PermissionDenied),
    );
    const claimed = await (await harness.client(dave)).receivePayment({ idempotencyKey: "claim", paymentId: id });
    assert.equal(claimed.payment?.recipientUserId, dave);
    assert.equal(await harness.waitForState(id, ["COMPLETED"]), "COMPLETED");
    const replay = await (await harness.client(dave)).receivePayment({ idempotencyKey: "claim", paymentId: id });
    assert.equal(replay.replayed, true);
    assert.equal(harness.ledger.posted(harness.ledger.walletOf(dave, "USD") ?? ""), 700n);
    assert.equal(harness.ledger.posted(harness.ledger.systemAccount("system:clearing:USD") ?? ""), 0n);
    assert.equal(harness.ledger.openPending(), 0);
  });

  it("returns an unclaimed payment to the sender when the claim window passes", async () => {
    const client = await harness.client(alice);
    const walletBefore = harness.ledger.available(harness.ledger.walletOf(alice, "USD") ?? "");
    const sent = await client.sendPayment({
      idempotencyKey: "expiring",
      recipient: { address: { case: "phone", value: "+4915112345678" } },
      amount: usd(300),
      priority: Priority.STANDARD,
    });
    const id = sent.payment?.id ?? "";
    await harness.waitForState(id, ["AWAITING_CLAIM"]);
    assert.equal(harness.ledger.available(harness.ledger.walletOf(alice, "USD") ?? ""), walletBefore - 300n);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const stranger = randomUUID();
    harness.auth.addUser(stranger, undefined, "+4915112345678");
    await assert.rejects(
      (await harness.client(stranger)).receivePayment({ idempotencyKey: "late", paymentId: id }),
      rejectsWith(Code.FailedPrecondition, /claim window/, "CLAIM_EXPIRED"),
    );
    await harness.sweeper.sweep();
    assert.equal(await harness.waitForState(id, ["EXPIRED"]), "EXPIRED");
    assert.equal(harness.ledger.available(harness.ledger.walletOf(alice, "USD") ?? ""), walletBefore);
  });

  it("refunds partially and then the rest, never more than paid, only by the recipient", async () => {
    const client = await harness.client(alice);
    const sent = await client.sendPayment({
      idempotencyKey: "to-refund",
      recipient: { address: { case: "userId", value: bob } },
      amount: usd(1_000),
      priority: Priority.STANDARD,
    });
    const id = sent.payment?.id ?? "";
    await harness.waitForState(id, ["COMPLETED"]);
    const bobClient = await harness.client(bob);
    await assert.rejects(client.refundPayment({ idempotencyKey: "r0", paymentId: id }), rejectsWith(Code.PermissionDenied));
    await assert.rejects(
      bobClient.refundPayment({ idempotencyKey: "r0", paymentId: id, amount: usd(1_001) }),
      rejectsWith(Code.InvalidArgument, /amount/, "REFUND_TOO_LARGE"),
    );
    await assert.rejects(
      bobClient.refundPayment({ idempotencyKey: "r0", paymentId: id, amount: { currency: "EUR", amountMinor: "1" } }),
      rejectsWith(Code.InvalidArgument, /amount.currency/),
    );
    const partial = await bobClient.refundPayment({ idempotencyKey: "r1", paymentId: id, amount: usd(400), reason: "broken" });
    assert.equal(partial.refund?.kind, PaymentKind.REFUND);
    assert.equal(partial.refund?.originalPaymentId, id);
    const replay = await bobClient.refundPayment({ idempotencyKey: "r1", paymentId: id, amount: usd(400), reason: "broken" });
    assert.equal(replay.replayed, true);
    assert.equal(replay.refund?.id, partial.refund?.id);
    await harness.waitForState(partial.refund?.id ?? "", ["COMPLETED"]);
    assert.equal(await harness.waitForState(id, ["PARTIALLY_REFUNDED"]), "PARTIALLY_REFUNDED");
    const rest = await bobClient.refundPayment({ idempotencyKey: "r2", paymentId: id });
    assert.equal(rest.refund?.amount?.amountMinor, "600");
    await harness.waitForState(rest.refund?.id ?? "", ["COMPLETED"]);
    assert.equal(await harness.waitForState(id, ["REFUNDED"]), "REFUNDED");
    await assert.rejects(
      bobClient.refundPayment({ idempotencyKey: "r3", paymentId: id }),
      rejectsWith(Code.FailedPrecondition, undefined, "NOT_REFUNDABLE"),
    );
    const original = await client.getPayment({ paymentId: id });
    assert.equal(original.payment?.refundedAmount?.amountMinor, "1000");
  });

  it("does not let a user read, list or watch another user's payment", async () => {
    const sent = await (await harness.client(alice)).sendPayment({
      idempotencyKey: "private",
      recipient: { address: { case: "userId", value: bob } },
      amount: usd(10),
      priority: Priority.STANDARD,
    });
    const id = sent.payment?.id ?? "";
    const mallory = await harness.client(randomUUID());
    await assert.rejects(mallory.getPayment({ paymentId: id }), rejectsWith(Code.PermissionDenied, undefined, "NOT_PARTY"));
    await assert.rejects(mallory.getPayment({ paymentId: randomUUID() }), rejectsWith(Code.PermissionDenied, undefined, "NOT_PARTY"));
    await assert.rejects(mallory.getPayment({ paymentId: "nope" }), rejectsWith(Code.InvalidArgument, /payment_id/));
    await assert.rejects(
      (async () => {
        for await (const _ of mallory.watchPayment({ paymentId: id })) break;
      })(),
      rejectsWith(Code.PermissionDenied),
    );
    assert.equal((await mallory.listPayments({})).payments.length, 0);
    // Bob, the recipient, sees it.
    assert.equal((await (await harness.client(bob)).getPayment({ paymentId: id })).payment?.id, id);
  });

  it("watches a payment to the end and lists with filters and a cursor", async () => {
    const client = await harness.client(alice);
    const sent = await client.sendPayment({
      idempotencyKey: "watched",
      recipient: { address: { case: "userId", value: bob } },
      amount: usd(5),
      priority: Priority.INSTANT,
    });
    const states: PaymentState[] = [];
    for await (const update of client.watchPayment({ paymentId: sent.payment?.id ?? "" }))
      states.push(update.payment?.state ?? PaymentState.UNSPECIFIED);
    assert.equal(states.at(-1), PaymentState.COMPLETED);
    const firstPage = await client.listPayments({ pageSize: 2, role: 1 });
    assert.equal(firstPage.payments.length, 2);
    assert.ok(firstPage.nextPageToken);
    const secondPage = await client.listPayments({ pageSize: 2, role: 1, pageToken: firstPage.nextPageToken });
    assert.ok(secondPage.payments.every((payment) => !firstPage.payments.some((seen) => seen.id === payment.id)));
    await assert.rejects(
      client.listPayments({ pageSize: 2, role: 2, pageToken: firstPage.nextPageToken }),
      rejectsWith(Code.InvalidArgument, /page_token/),
    );
    await assert.rejects(client.listPayments({ pageSize: 101 }), rejectsWith(Code.InvalidArgument, /page_size/));
    const completed = await client.listPayments({ states: [PaymentState.COMPLETED], currency: "USD" });
    assert.ok(completed.payments.every((payment) => payment.state === PaymentState.COMPLETED));
  });

  it("exports payments_total by state and currency from the start, and counts what happened", async () => {
    const text = await harness.registryText();
    assert.match(text, /payments_total\{state="REFUNDED",currency="ETH"[^}]*\} 0/);
    assert.match(text, /payments_total\{state="COMPLETED",currency="USD"[^}]*\} [1-9]/);
    assert.match(text, /payments_limit_rejections_total\{window="per_transaction",currency="USD"[^}]*\} [1-9]/);
    assert.match(text, /payments_processing_duration_seconds_count\{[^}]*kind="transfer",outcome="completed"[^}]*\} [1-9]/);
  });
});
