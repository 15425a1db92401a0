// Goal (issue #5's acceptance, end to end): payments keeps its promises when it
// runs as a real process against the real auth and ledger processes, on real
// Postgres and Redis, called over gRPC by people who signed up and signed in
// through auth. Money moves in every currency (an ETH amount above 2^64 wei
// among them), through deposits, sends, requests, refunds and a claim after
// sign-up, and every wallet and fee account in the ledger ends exactly where
// the test computed, to the minor unit. 500 concurrent sends with duplicates
// against a limit spend nothing twice and exceed no limit; a SIGKILL in the
// middle of a load run loses and doubles nothing; one user cannot read, refund,
// watch or list another's payment; a card number is found in no database, log
// line or exported span. Every scenario ends with the ledger reconciling clean.
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CryptoNetwork,
  type Payment,
  PaymentFailureReason,
  PaymentKind,
  PaymentRequestState,
  PaymentState,
  Priority,
} from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import {
  dumpDatabase,
  eventually,
  type PaymentsPlatform,
  postedBalance,
  type SignedInUser,
  settled,
  startPaymentsPlatform,
  systemBalance,
  walletsOf,
} from "./support/payments-platform.ts";

const currencies = ["USD", "EUR", "USDC", "EURC", "BTC", "ETH"] as const;
type Currency = (typeof currencies)[number];

/** 20 ETH in wei: above 2^64 (18 446 744 073 709 551 616), so no 64-bit integer can carry it. */
const ethAboveTwoToThe64 = 20n * 10n ** 18n;

/** The race's daily USD limit: 250 sends of 1 000 fit, the other 250 must be refused. */
const raceSendMinor = 1_000n;
const raceDailyLimitMinor = 250_000n;

/** Test card numbers (README: Sandbox rail); each is searched for at the end. */
const cards = {
  succeed: "5555555555554444",
  decline: "4000000000000002",
  failLate: "4000000000000341",
  /** Only added, for the privacy check: a Visa test number no other step uses. */
  privacy: "4000056655665556",
};

/** Limits for this run: ETH large enough for the 2^64 send, USD exactly the race's. */
const limits = {
  standard: {
    ETH: { perTransactionMinor: String(10n ** 20n), dailyMinor: String(10n ** 21n), monthlyMinor: String(10n ** 22n) },
    USD: { perTransactionMinor: "100000", dailyMinor: String(raceDailyLimitMinor), monthlyMinor: "10000000" },
  },
};

const isCode = (code: Code) => (error: unknown) => {
  assert.ok(error instanceof ConnectError, String(error));
  assert.equal(Code[error.code], Code[code], error.message);
  return true;
};

/** What the test expects every wallet and fee account to hold, kept as money moves. */
function createBooks() {
  const wallets = new Map<string, bigint>();
  const fees = new Map<string, bigint>();
  const key = (user: SignedInUser, currency: string) => `${user.userId}:${currency}`;
  return {
    credit(user: SignedInUser, currency: string, amount: bigint) {
      wallets.set(key(user, currency), (wallets.get(key(user, currency)) ?? 0n) + amount);
    },
    fee(currency: string, amount: bigint) {
      fees.set(currency, (fees.get(currency) ?? 0n) + amount);
    },
    wallet: (user: SignedInUser, currency: string) => wallets.get(key(user, currency)) ?? 0n,
    feeRevenue: (currency: string) => fees.get(currency) ?? 0n,
  };
}

describe("payments end to end: real auth, ledger and payments", function () {
  this.timeout(300_000);
  let platform: PaymentsPlatform;
  let admin: SignedInUser;
  /** Fee revenue per currency before this file moved money (a fresh ledger holds none). */
  const feeRevenueAtStart = new Map<string, bigint>();

  before(async () => {
    platform = await startPaymentsPlatform({
      env: {
        // Debug logs, so the privacy check searches everything the processes can say.
        LOG_LEVEL: "debug",
        PAYMENTS_LIMITS: JSON.stringify(limits),
        PAYMENTS_WORKER_POLL_MS: "50",
        PAYMENTS_WORKER_CONCURRENCY: "16",
        // A killed worker's lease lapses quickly, so the restarted one takes its jobs over.
        PAYMENTS_JOB_LEASE_MS: "2000",
        PAYMENTS_RETRY_BACKOFF_MS: "50",
        PAYMENTS_RETRY_BACKOFF_MAX_MS: "1000",
        PAYMENTS_SANDBOX_FAIL_LATE_MS: "500",
        PAYMENTS_RAIL_POLL_MS: "100",
      },
    });
    admin = await platform.admin();
    for (const currency of currencies)
      feeRevenueAtStart.set(currency, await systemBalance(platform.ledgerDatabase, `system:fee_revenue:${currency}`));
  });

  after(async () => {
    await platform?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") {
      console.error(
        `--- payments ---\n${platform.output("payments").slice(-8000)}\n--- ledger ---\n${platform.output("ledger").slice(-4000)}`,
      );
    }
  });

  /** Runs Reconcile and VerifyChain as an admin and asserts both are clean. */
  async function assertLedgerClean() {
    const { report } = await admin.ledger.reconcile({});
    assert.ok(report, "a reconciliation report");
    assert.equal(report.clean, true, JSON.stringify(report.discrepancies.slice(0, 5)));
    for (const total of report.currencyTotals) assert.equal(total.postedMinor, "0", `${total.currency} sums to zero`);
    const { verification } = await admin.ledger.verifyChain({});
    assert.ok(verification);
    assert.equal(verification.intact, true, JSON.stringify(verification.breaks.slice(0, 3)));
    assert.ok(verification.checkedCount > 0n);
  }

  async function addCard(user: SignedInUser, number: string) {
    const { paymentMethod } = await user.payments.addPaymentMethod({
      idempotencyKey: `card-${number}`,
      method: { case: "card", value: { number, expiryMonth: 12, expiryYear: 2099, securityCode: "737", cardholderName: "Test Holder" } },
    });
    assert.ok(paymentMethod);
    return paymentMethod.id;
  }

  async function addWallet(user: SignedInUser, network: CryptoNetwork, address: string) {
    const { paymentMethod } = await user.payments.addPaymentMethod({
      idempotencyKey: `wallet-${address}`,
      method: { case: "cryptoWallet", value: { network, address } },
    });
    assert.ok(paymentMethod);
    return paymentMethod.id;
  }

  /** Deposits through the sandbox rail and waits for the payment to settle. */
  async function deposit(user: SignedInUser, methodId: string, currency: Currency, amountMinor: bigint, priority = Priority.STANDARD) {
    const { payment } = await user.payments.deposit({
      idempotencyKey: `deposit-${crypto.randomUUID()}`,
      paymentMethodId: methodId,
      amount: { currency, amountMinor: String(amountMinor) },
      priority,
    });
    assert.ok(payment);
    assert.equal(payment.kind, PaymentKind.DEPOSIT);
    return settled(user, payment.id);
  }

  async function quote(
    user: SignedInUser,
    kind: PaymentKind,
    currency: Currency,
    amountMinor: bigint,
    priority: Priority,
  ): Promise<bigint> {
    const { quote } = await user.payments.quoteFee({ kind, amount: { currency, amountMinor: String(amountMinor) }, priority });
    assert.ok(quote?.fee && quote.total);
    assert.equal(BigInt(quote.total.amountMinor), amountMinor + BigInt(quote.fee.amountMinor));
    return BigInt(quote.fee.amountMinor);
  }

  /** Every wallet of each user, and every fee account, holds what the books say. */
  async function assertBalances(users: readonly SignedInUser[], books: ReturnType<typeof createBooks>) {
    for (const user of users) {
      const wallets = await walletsOf(user);
      for (const currency of currencies) {
        const posted = BigInt(wallets.get(currency)?.balance?.postedMinor ?? "0");
        assert.equal(posted, books.wallet(user, currency), `${user.email}'s ${currency} wallet`);
        const available = BigInt(wallets.get(currency)?.balance?.availableMinor ?? "0");
        assert.equal(available, posted, `${user.email}'s ${currency} wallet has nothing reserved`);
      }
    }
    for (const currency of currencies) {
      const revenue = await systemBalance(platform.ledgerDatabase, `system:fee_revenue:${currency}`);
      assert.equal(revenue - (feeRevenueAtStart.get(currency) ?? 0n), books.feeRevenue(currency), `fees in system:fee_revenue:${currency}`);
    }
  }

  const books = createBooks();
  let alice: SignedInUser;
  let bob: SignedInUser;
  /** A transfer alice sent bob, refunded in part; the isolation test tries to reach it as a stranger. */
  let refundedTransfer: Payment;

  it("moves money in every currency through deposits, sends, requests, refunds and a claim, to the minor unit", async () => {
    const stamp = Date.now();
    alice = await platform.signUp(`alice-${stamp}@example.com`);
    bob = await platform.signUp(`bob-${stamp}@example.com`);

    // Deposits through the sandbox rail: a card for USD and EUR (express, so a deposit fee lands too),
    // an Ethereum wallet for ETH, USDC and EURC, a Bitcoin wallet for BTC.
    const card = await addCard(alice, cards.succeed);
    const ethereum = await addWallet(alice, CryptoNetwork.ETHEREUM, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
    const bitcoin = await addWallet(alice, CryptoNetwork.BITCOIN, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
    const deposits: [string, Currency, bigint, Priority][] = [
      [card, "USD", 500_000n, Priority.EXPRESS],
      [card, "EUR", 300_000n, Priority.STANDARD],
      [ethereum, "ETH", 30n * 10n ** 18n, Priority.EXPRESS],
      [ethereum, "USDC", 900_000_000n, Priority.STANDARD],
      [ethereum, "EURC", 700_000_000n, Priority.INSTANT],
      [bitcoin, "BTC", 3_000_000n, Priority.STANDARD],
    ];
    for (const [methodId, currency, amountMinor, priority] of deposits) {
      const fee = await quote(alice, PaymentKind.DEPOSIT, currency, amountMinor, priority);
      const done = await deposit(alice, methodId, currency, amountMinor, priority);
      assert.equal(PaymentState[done.state], "COMPLETED", `${currency} deposit: ${done.failureMessage}`);
      assert.equal(BigInt(done.fee?.amountMinor ?? "-1"), fee, `${currency} deposit fee as quoted`);
      // The fee is paid on top by the instrument; the wallet receives the amount.
      books.credit(alice, currency, amountMinor);
      books.fee(currency, fee);
    }

    // A declining card fails at once, a late-failing one after the rail's delay; neither moves money.
    const declined = await deposit(alice, await addCard(alice, cards.decline), "USD", 10_000n);
    assert.equal(PaymentState[declined.state], "FAILED");
    assert.equal(PaymentFailureReason[declined.failureReason], "RAIL_DECLINED");
    const failedLate = await deposit(alice, await addCard(alice, cards.failLate), "EUR", 10_000n, Priority.EXPRESS);
    assert.equal(PaymentState[failedLate.state], "FAILED");
    assert.equal(PaymentFailureReason[failedLate.failureReason], "RAIL_FAILED");
    assert.ok(
      failedLate.history.some((change) => change.toState === PaymentState.PROCESSING),
      "the late failure was accepted first",
    );
    await assertBalances([alice], books);

    // One send in each currency, by email, with the fee QuoteFee announced.
    const sends: [Currency, bigint, Priority][] = [
      ["USD", 12_345n, Priority.EXPRESS],
      ["EUR", 54_321n, Priority.INSTANT],
      ["USDC", 123_456_789n, Priority.STANDARD],
      ["EURC", 98_765_432n, Priority.EXPRESS],
      ["BTC", 1_234_567n, Priority.INSTANT],
      ["ETH", ethAboveTwoToThe64 + 123n, Priority.EXPRESS],
    ];
    const sent = new Map<Currency, Payment>();
    for (const [currency, amountMinor, priority] of sends) {
      const fee = await quote(alice, PaymentKind.TRANSFER, currency, amountMinor, priority);
      const { payment } = await alice.payments.sendPayment({
        idempotencyKey: `send-${currency}`,
        recipient: { address: { case: "email", value: bob.email } },
        amount: { currency, amountMinor: String(amountMinor) },
        priority,
        memo: `${currency} for bob`,
      });
      assert.ok(payment);
      assert.equal(BigInt(payment.fee?.amountMinor ?? "-1"), fee, `${currency} fee as quoted`);
      const done = await settled(alice, payment.id);
      assert.equal(PaymentState[done.state], "COMPLETED", `${currency} send: ${done.failureMessage}`);
      assert.equal(done.recipientUserId, bob.userId);
      assert.equal(done.amount?.amountMinor, String(amountMinor), "the amount survives the trip exactly");
      sent.set(currency, done);
      books.credit(alice, currency, -(amountMinor + fee));
      books.credit(bob, currency, amountMinor);
      books.fee(currency, fee);
    }
    assert.ok(BigInt(sent.get("ETH")?.amount?.amountMinor ?? "0") > 2n ** 64n);
    await assertBalances([alice, bob], books);

    // A request bob makes and alice pays; one alice declines; one bob cancels.
    const { request: paidRequest } = await bob.payments.requestPayment({
      idempotencyKey: "request-paid",
      payer: { address: { case: "email", value: alice.email } },
      amount: { currency: "EUR", amountMinor: "7777" },
      memo: "dinner",
    });
    assert.ok(paidRequest);
    const requestFee = await quote(alice, PaymentKind.TRANSFER, "EUR", 7_777n, Priority.INSTANT);
    const paid = await alice.payments.payRequest({ idempotencyKey: "pay-dinner", requestId: paidRequest.id, priority: Priority.INSTANT });
    assert.ok(paid.payment);
    const paidPayment = await settled(alice, paid.payment.id);
    assert.equal(PaymentState[paidPayment.state], "COMPLETED", paidPayment.failureMessage);
    assert.equal(paidPayment.requestId, paidRequest.id);
    const { requests: bobsRequests } = await bob.payments.listRequests({ pageSize: 10 });
    assert.equal(
      PaymentRequestState[bobsRequests.find((found) => found.id === paidRequest.id)?.state ?? 0],
      "PAID",
      "the request is paid once its payment completed",
    );
    books.credit(alice, "EUR", -(7_777n + requestFee));
    books.credit(bob, "EUR", 7_777n);
    books.fee("EUR", requestFee);

    const { request: declinedRequest } = await bob.payments.requestPayment({
      idempotencyKey: "request-declined",
      payer: { address: { case: "userId", value: alice.userId } },
      amount: { currency: "USD", amountMinor: "500" },
    });
    assert.ok(declinedRequest);
    const declinedAnswer = await alice.payments.declineRequest({ requestId: declinedRequest.id, reason: "not mine" });
    assert.equal(PaymentRequestState[declinedAnswer.request?.state ?? 0], "DECLINED");
    await assert.rejects(
      alice.payments.payRequest({ idempotencyKey: "pay-declined", requestId: declinedRequest.id, priority: Priority.STANDARD }),
      isCode(Code.FailedPrecondition),
    );
    const { request: canceledRequest } = await bob.payments.requestPayment({
      idempotencyKey: "request-canceled",
      payer: { address: { case: "email", value: alice.email } },
      amount: { currency: "USD", amountMinor: "600" },
    });
    assert.ok(canceledRequest);
    // Only the requester cancels; the payer is refused.
    await assert.rejects(alice.payments.cancelRequest({ requestId: canceledRequest.id }), isCode(Code.PermissionDenied));
    const canceled = await bob.payments.cancelRequest({ requestId: canceledRequest.id });
    assert.equal(PaymentRequestState[canceled.request?.state ?? 0], "CANCELED");
    await assert.rejects(
      alice.payments.payRequest({ idempotencyKey: "pay-canceled", requestId: canceledRequest.id, priority: Priority.STANDARD }),
      isCode(Code.FailedPrecondition),
    );
    await assertBalances([alice, bob], books);

    // Bob refunds part of the USD send, then retries the same refund (replayed), then asks for more than is left.
    const usdSend = sent.get("USD") as Payment;
    const refund = await bob.payments.refundPayment({
      idempotencyKey: "refund-usd",
      paymentId: usdSend.id,
      amount: { currency: "USD", amountMinor: "2345" },
      reason: "partly returned",
    });
    assert.ok(refund.refund);
    assert.equal(PaymentKind[refund.refund.kind], "REFUND");
    const refundDone = await settled(bob, refund.refund.id);
    assert.equal(PaymentState[refundDone.state], "COMPLETED", refundDone.failureMessage);
    assert.equal(BigInt(refundDone.fee?.amountMinor ?? "0"), 0n, "refunds carry no fee");
    const replayedRefund = await bob.payments.refundPayment({
      idempotencyKey: "refund-usd",
      paymentId: usdSend.id,
      amount: { currency: "USD", amountMinor: "2345" },
      reason: "partly returned",
    });
    assert.equal(replayedRefund.replayed, true);
    assert.equal(replayedRefund.refund?.id, refund.refund.id);
    await assert.rejects(
      bob.payments.refundPayment({
        idempotencyKey: "refund-usd-too-much",
        paymentId: usdSend.id,
        amount: { currency: "USD", amountMinor: "10001" },
      }),
      (error: unknown) => isCode(Code.InvalidArgument)(error) && /amount/.test((error as ConnectError).message),
    );
    // The sender cannot refund to themselves.
    await assert.rejects(
      alice.payments.refundPayment({ idempotencyKey: "refund-by-sender", paymentId: usdSend.id }),
      isCode(Code.PermissionDenied),
    );
    refundedTransfer = await settled(alice, usdSend.id);
    assert.equal(PaymentState[refundedTransfer.state], "PARTIALLY_REFUNDED");
    assert.equal(refundedTransfer.refundedAmount?.amountMinor, "2345");
    books.credit(bob, "USD", -2_345n);
    books.credit(alice, "USD", 2_345n);
    await assertBalances([alice, bob], books);

    // A send to an email nobody has yet waits for its claim; carol signs up and claims it.
    const carolEmail = `carol-${stamp}@example.com`;
    const claimFee = await quote(alice, PaymentKind.TRANSFER, "EUR", 4_321n, Priority.EXPRESS);
    const { payment: claimable } = await alice.payments.sendPayment({
      idempotencyKey: "send-to-carol",
      recipient: { address: { case: "email", value: carolEmail } },
      amount: { currency: "EUR", amountMinor: "4321" },
      priority: Priority.EXPRESS,
    });
    assert.ok(claimable);
    const waiting = await settled(alice, claimable.id);
    assert.equal(PaymentState[waiting.state], "AWAITING_CLAIM");
    assert.ok(waiting.claimExpiresAt, "a claim window");
    books.credit(alice, "EUR", -(4_321n + claimFee));
    books.fee("EUR", claimFee);
    const carol = await platform.signUp(carolEmail);
    // Bob is not the addressee: he cannot claim it.
    await assert.rejects(
      bob.payments.receivePayment({ idempotencyKey: "bob-claims", paymentId: claimable.id }),
      isCode(Code.PermissionDenied),
    );
    const claimed = await carol.payments.receivePayment({ idempotencyKey: "carol-claims", paymentId: claimable.id });
    assert.ok(claimed.payment);
    const claimedDone = await settled(carol, claimable.id, [PaymentState.COMPLETED, PaymentState.FAILED, PaymentState.EXPIRED]);
    assert.equal(PaymentState[claimedDone.state], "COMPLETED", claimedDone.failureMessage);
    assert.equal(claimedDone.recipientUserId, carol.userId);
    books.credit(carol, "EUR", 4_321n);

    await assertBalances([alice, bob, carol], books);
    await assertLedgerClean();
  });
});
