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
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { PaymentsService } from "@trustmesh/api";
import {
  CryptoNetwork,
  type Payment,
  PaymentFailureReason,
  PaymentKind,
  PaymentRequestState,
  PaymentRole,
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
        // A killed worker's lease lapses quickly, so the restarted one takes its jobs over.
        PAYMENTS_JOB_LEASE_MS: "2000",
        PAYMENTS_RETRY_BACKOFF_MS: "50",
        PAYMENTS_RETRY_BACKOFF_MAX_MS: "1000",
        PAYMENTS_SANDBOX_FAIL_LATE_MS: "500",
        PAYMENTS_RAIL_POLL_MS: "100",
        // Long enough for a recipient to sign up and claim, short enough to watch one expire.
        PAYMENTS_CLAIM_WINDOW_MS: "15000",
        PAYMENTS_SWEEP_INTERVAL_MS: "500",
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
    if (this.currentTest?.state !== "failed") return;
    // The lines that explain a failure: each process's last warnings and errors here, its whole output in a file.
    for (const name of ["payments", "ledger", "auth"] as const) {
      const lines = platform.output(name).split("\n");
      const errors = lines.filter((line) => /"level":(40|50|60)\b|"level":"(warn|error|fatal)"/.test(line)).slice(-20);
      console.error(`--- ${name}: last warnings and errors ---\n${errors.join("\n").slice(-12_000)}`);
    }
    // The whole output goes to files, for a closer look (CI can keep them).
    for (const name of ["payments", "ledger", "auth"] as const) {
      const path = join(tmpdir(), `trustmesh-payments-e2e-${name}.log`);
      writeFileSync(path, platform.output(name));
      console.error(`--- ${name}'s whole output: ${path}`);
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
      idempotencyKey: `card-${crypto.randomUUID()}`,
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
    // Bob also verifies a phone number, so money can find him by it.
    const bobPhone = `+49151${String(stamp).slice(-8)}`;
    bob = await platform.signUp(`bob-${stamp}@example.com`, bobPhone);

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

    // One send in each currency, to bob by email, phone or user id in turn, with the fee QuoteFee announced.
    const addresses = [
      { case: "email" as const, value: bob.email },
      { case: "phone" as const, value: bobPhone },
      { case: "userId" as const, value: bob.userId },
    ];
    const sends: [Currency, bigint, Priority][] = [
      ["USD", 12_345n, Priority.EXPRESS],
      ["EUR", 54_321n, Priority.INSTANT],
      ["USDC", 123_456_789n, Priority.STANDARD],
      ["EURC", 98_765_432n, Priority.EXPRESS],
      ["BTC", 1_234_567n, Priority.INSTANT],
      ["ETH", ethAboveTwoToThe64 + 123n, Priority.EXPRESS],
    ];
    const sent = new Map<Currency, Payment>();
    for (const [index, [currency, amountMinor, priority]] of sends.entries()) {
      const fee = await quote(alice, PaymentKind.TRANSFER, currency, amountMinor, priority);
      const { payment } = await alice.payments.sendPayment({
        idempotencyKey: `send-${currency}`,
        recipient: { address: addresses[index % addresses.length] as (typeof addresses)[number] },
        amount: { currency, amountMinor: String(amountMinor) },
        priority,
        memo: `${currency} for bob`,
      });
      assert.ok(payment);
      assert.equal(BigInt(payment.fee?.amountMinor ?? "-1"), fee, `${currency} fee as quoted`);
      if (currency === "USDC") {
        // Watched from the start: the stream shows the payment until it completes, then ends by itself.
        const seen: PaymentState[] = [];
        for await (const update of alice.payments.watchPayment({ paymentId: payment.id })) seen.push(update.payment?.state ?? 0);
        assert.equal(PaymentState[seen.at(-1) ?? 0], "COMPLETED", `states seen: ${seen.map((state) => PaymentState[state])}`);
      }
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

    // Withdrawals to IBANs: one settles (amount and fee leave the wallet), one fails late and gives everything back.
    const addIban = async (iban: string) => {
      const { paymentMethod } = await alice.payments.addPaymentMethod({
        idempotencyKey: `iban-${iban}`,
        method: { case: "bankAccount", value: { accountHolderName: "Alice Example", scheme: { case: "iban", value: { iban } } } },
      });
      assert.ok(paymentMethod);
      return paymentMethod.id;
    };
    const withdraw = async (methodId: string, amountMinor: bigint) => {
      const { payment } = await alice.payments.withdraw({
        idempotencyKey: `withdraw-${crypto.randomUUID()}`,
        paymentMethodId: methodId,
        amount: { currency: "EUR", amountMinor: String(amountMinor) },
        priority: Priority.EXPRESS,
      });
      assert.ok(payment);
      return settled(alice, payment.id);
    };
    const withdrawalFee = await quote(alice, PaymentKind.WITHDRAWAL, "EUR", 20_000n, Priority.EXPRESS);
    const withdrawn = await withdraw(await addIban("DE89370400440532013000"), 20_000n);
    assert.equal(PaymentState[withdrawn.state], "COMPLETED", withdrawn.failureMessage);
    assert.equal(BigInt(withdrawn.fee?.amountMinor ?? "-1"), withdrawalFee);
    books.credit(alice, "EUR", -(20_000n + withdrawalFee));
    books.fee("EUR", withdrawalFee);
    const returned = await withdraw(await addIban("DE62370400440532013001"), 15_000n);
    assert.equal(PaymentState[returned.state], "FAILED");
    assert.equal(PaymentFailureReason[returned.failureReason], "RAIL_FAILED");

    await assertBalances([alice, bob, carol], books);
    await assertLedgerClean();
  });

  /** Payments the sender started, as payments' own records hold them. */
  async function paymentRecordsOf(sender: SignedInUser) {
    const { rows } = await platform.paymentsDatabase.query<{ id: string; state: string; kind: string; amount: string; fee: string }>(
      `SELECT id::text, state::text, kind::text, amount_minor::text AS amount, fee_minor::text AS fee
         FROM payment WHERE sender_user_id = $1`,
      [sender.userId],
    );
    return rows;
  }

  /** Waits until none of the sender's payments is still on its way. */
  async function allSettled(sender: SignedInUser) {
    await eventually(`every payment of ${sender.email} settled`, async () => {
      const { rows } = await platform.paymentsDatabase.query<{ open: string }>(
        "SELECT count(*)::text AS open FROM payment WHERE sender_user_id = $1 AND state IN ('CREATED', 'PROCESSING')",
        [sender.userId],
      );
      return rows[0]?.open === "0";
    });
  }

  /**
   * Payments' records and the ledger's transactions tell the same story: every
   * ledger transaction payments made names a payment payments knows; a
   * completed transfer was reserved once and posted once; a failed one was
   * never posted and holds no reservation. The ledger's unique idempotency
   * index would refuse a second transaction under the same key, so "once" is
   * also "the key was effective once".
   */
  async function assertRecordsMatchLedger(records: Awaited<ReturnType<typeof paymentRecordsOf>>) {
    const { rows } = await platform.ledgerDatabase.query<{ key: string; kind: string; open: boolean }>(
      `SELECT t.idempotency_key AS key, t.kind::text AS kind, o.transaction_id IS NOT NULL AS open
         FROM ledger_transaction t LEFT JOIN open_pending o ON o.transaction_id = t.id
        WHERE t.idempotency_key LIKE 'payment:%'`,
    );
    const steps = new Map<string, { step: string; kind: string; open: boolean }[]>();
    for (const row of rows) {
      const [, paymentId, step] = row.key.split(":");
      steps.set(paymentId as string, [...(steps.get(paymentId as string) ?? []), { step: step as string, kind: row.kind, open: row.open }]);
    }
    const { rows: known } = await platform.paymentsDatabase.query<{ id: string }>("SELECT id::text FROM payment");
    const knownIds = new Set(known.map((row) => row.id));
    for (const paymentId of steps.keys())
      assert.ok(knownIds.has(paymentId), `ledger transactions for payment ${paymentId}, unknown to payments`);
    for (const record of records) {
      const of = steps.get(record.id) ?? [];
      const count = (step: string) => of.filter((found) => found.step === step).length;
      assert.ok(count("reserve") <= 1 && count("post") <= 1 && count("void") <= 1, `${record.id}: ${JSON.stringify(of)}`);
      assert.ok(!of.some((found) => found.open), `${record.id} holds no open reservation`);
      if (record.state === "COMPLETED") {
        assert.deepEqual(of.map((found) => `${found.step}:${found.kind}`).sort(), ["post:POST_PENDING", "reserve:PENDING"], record.id);
      } else {
        assert.equal(record.state, "FAILED", record.id);
        assert.equal(count("post"), 0, `failed payment ${record.id} was never posted`);
      }
    }
  }

  it("500 concurrent sends with duplicates: no double spend, no limit exceeded, each idempotency key effective once", async () => {
    const stamp = Date.now();
    // Two senders race: one bound by its daily limit, one by its balance.
    const limited = await platform.signUp(`limited-${stamp}@example.com`);
    const broke = await platform.signUp(`broke-${stamp}@example.com`);
    const payee = await platform.signUp(`payee-${stamp}@example.com`);
    const fee = await quote(limited, PaymentKind.TRANSFER, "USD", raceSendMinor, Priority.EXPRESS);
    const sendsThatFit = raceDailyLimitMinor / raceSendMinor;
    const brokeAffords = 100n;
    const funding = new Map([
      [limited, 400_000n],
      [broke, brokeAffords * (raceSendMinor + fee)],
    ]);
    for (const [sender, amountMinor] of funding) {
      const funded = await deposit(sender, await addCard(sender, cards.succeed), "USD", amountMinor);
      assert.equal(PaymentState[funded.state], "COMPLETED");
      books.credit(sender, "USD", amountMinor);
    }

    const sendCount = 500;
    const busyRetriesMax = 30;
    let busyAnswers = 0;
    const race = async (sender: SignedInUser) => {
      // Every fifth key is sent twice at the same moment, as by a client retrying a call whose answer it lost.
      const keys = Array.from({ length: sendCount }, (_, index) => `race-${index}`).flatMap((key, index) =>
        index % 5 === 0 ? [key, key] : [key],
      );
      const outcomes = await Promise.all(
        keys.map(async (key) => {
          // A busy answer (UNAVAILABLE: no database connection came free; DEADLINE_EXCEEDED: the call waited
          // its whole deadline) is retried with the same key, as a client would, a bounded number of times.
          for (let attempt = 1; ; attempt++) {
            try {
              const { payment, replayed } = await sender.payments.sendPayment({
                idempotencyKey: key,
                recipient: { address: { case: "userId", value: payee.userId } },
                amount: { currency: "USD", amountMinor: String(raceSendMinor) },
                priority: Priority.EXPRESS,
              });
              return { key, paymentId: payment?.id ?? "", replayed };
            } catch (error) {
              assert.ok(error instanceof ConnectError, String(error));
              if ((error.code === Code.Unavailable || error.code === Code.DeadlineExceeded) && attempt < busyRetriesMax) {
                busyAnswers++;
                // Exponential backoff with full jitter, capped, so retries do not pile onto a busy service.
                await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2000, 100 * 2 ** attempt)));
                continue;
              }
              return { key, code: error.code, message: error.message };
            }
          }
        }),
      );
      return outcomes;
    };
    // One sender's 500 at a time: each race is 600 calls in flight at once on a machine CI shares.
    const limitedOutcomes = await race(limited);
    const brokeOutcomes = await race(broke);
    console.log(`      (${limitedOutcomes.length + brokeOutcomes.length} calls; ${busyAnswers} answered busy and were retried)`);

    for (const [sender, outcomes] of [
      [limited, limitedOutcomes],
      [broke, brokeOutcomes],
    ] as const) {
      // Each key answered with one payment (a duplicate replays it) or was refused by the limit.
      const byKey = new Map<string, typeof outcomes>();
      for (const outcome of outcomes) byKey.set(outcome.key, [...(byKey.get(outcome.key) ?? []), outcome]);
      const accepted = new Set<string>();
      for (const [key, answers] of byKey) {
        const ids = new Set(answers.flatMap((answer) => ("paymentId" in answer ? [answer.paymentId] : [])));
        assert.ok(ids.size <= 1, `${key} created ${ids.size} payments`);
        for (const answer of answers) {
          if ("code" in answer) assert.equal(Code[answer.code as Code], "ResourceExhausted", answer.message);
        }
        // At most one answer says it created the payment (its answer may have been lost to a deadline); the rest replayed it.
        const fresh = answers.filter((answer) => "replayed" in answer && !answer.replayed);
        assert.ok(fresh.length <= 1, `${key}: ${fresh.length} answers claim to have created its payment`);
        if (ids.size === 1) accepted.add([...ids][0] as string);
      }
      // The limit lets exactly as many through as fit, however the race went.
      assert.equal(BigInt(accepted.size), sendsThatFit, `${sender.email}: accepted sends`);
      await allSettled(sender);
      const records = (await paymentRecordsOf(sender)).filter((record) => record.kind === "TRANSFER");
      assert.deepEqual(new Set(records.map((record) => record.id)), accepted, "payments holds exactly the accepted payments");
      await assertRecordsMatchLedger(records);
      const completed = records.filter((record) => record.state === "COMPLETED");
      const expectedCompleted = sender === broke ? brokeAffords : sendsThatFit;
      assert.equal(BigInt(completed.length), expectedCompleted, `${sender.email}: completed sends`);
      for (const record of records.filter((found) => found.state === "FAILED")) {
        const { payment } = await sender.payments.getPayment({ paymentId: record.id });
        assert.equal(PaymentFailureReason[payment?.failureReason ?? 0], "INSUFFICIENT_FUNDS");
      }
      books.credit(sender, "USD", -BigInt(completed.length) * (raceSendMinor + fee));
      books.credit(payee, "USD", BigInt(completed.length) * raceSendMinor);
      books.fee("USD", BigInt(completed.length) * fee);

      // GetLimits counts what completed (failed sends give their amount back) and agrees with the ledger.
      const { limits: shown } = await sender.payments.getLimits({ currency: "USD" });
      const usd = shown.find((line) => line.currency === "USD");
      assert.ok(usd?.daily?.used && usd.daily.remaining && usd.daily.limit);
      assert.equal(BigInt(usd.daily.limit.amountMinor), raceDailyLimitMinor);
      assert.equal(BigInt(usd.daily.used.amountMinor), BigInt(completed.length) * raceSendMinor);
      assert.ok(BigInt(usd.daily.used.amountMinor) <= raceDailyLimitMinor, "no limit exceeded");
      assert.equal(BigInt(usd.daily.remaining.amountMinor), raceDailyLimitMinor - BigInt(usd.daily.used.amountMinor));
      const spent = (funding.get(sender) ?? 0n) - (await postedBalance(sender, "USD"));
      assert.equal(
        spent,
        BigInt(usd.daily.used.amountMinor) + BigInt(completed.length) * fee,
        "the ledger spent what GetLimits counts, plus fees",
      );
    }
    assert.equal(await postedBalance(broke, "USD"), 0n, "the balance-bound sender spent everything and not a unit more");
    await assertBalances([limited, broke, payee], books);
    await assertLedgerClean();
  });

  it("loses and doubles nothing when the payments process is SIGKILLed mid-load and restarted on the same database", async () => {
    const stamp = Date.now();
    const sender = await platform.signUp(`crash-sender-${stamp}@example.com`);
    const payee = await platform.signUp(`crash-payee-${stamp}@example.com`);
    const funding = 200_000n;
    const funded = await deposit(sender, await addCard(sender, cards.succeed), "USD", funding);
    assert.equal(PaymentState[funded.state], "COMPLETED");
    books.credit(sender, "USD", funding);

    // A client that retries a send with the same key while the service is unreachable, as real clients do.
    const transient = new Set([Code.Unavailable, Code.Unknown, Code.Internal, Code.Canceled, Code.DeadlineExceeded, Code.Aborted]);
    const send = async (index: number): Promise<string> => {
      for (let attempt = 0; attempt < 300; attempt++) {
        try {
          const { payment } = await sender.payments.sendPayment(
            {
              idempotencyKey: `crash-${index}`,
              recipient: { address: { case: "userId", value: payee.userId } },
              amount: { currency: "USD", amountMinor: String(100 + index) },
              priority: Priority.EXPRESS,
            },
            { timeoutMs: 5000 },
          );
          return payment?.id ?? "";
        } catch (error) {
          if (!(error instanceof ConnectError) || !transient.has(error.code)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      throw new Error(`send ${index} never got through`);
    };
    const total = 300;
    const answered = new Map<number, string>();
    let crash: Promise<void> | undefined;
    let openAtKill = -1;
    const queue = Array.from({ length: total }, (_, index) => index);
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
          answered.set(index, await send(index));
          if (!crash && answered.size >= 100) {
            crash = (async () => {
              const { rows } = await platform.paymentsDatabase.query<{ open: string }>(
                "SELECT count(*)::text AS open FROM payment WHERE sender_user_id = $1 AND state IN ('CREATED', 'PROCESSING')",
                [sender.userId],
              );
              openAtKill = Number(rows[0]?.open);
              await platform.services.kill("payments", "SIGKILL");
              await platform.services.restart("payments");
            })();
          }
        }
      }),
    );
    await crash;
    assert.ok(crash, "the process was killed mid-run");
    assert.ok(openAtKill > 0, "payments were in flight when the process was killed");
    console.log(`      (payments in flight when SIGKILLed: ${openAtKill})`);

    await allSettled(sender);
    const records = (await paymentRecordsOf(sender)).filter((record) => record.kind === "TRANSFER");
    // Every key got one payment, the one its answer named, and payments holds no other.
    assert.equal(answered.size, total);
    assert.equal(new Set(answered.values()).size, total, "one payment per idempotency key");
    assert.deepEqual(new Set(records.map((record) => record.id)), new Set(answered.values()), "no accepted payment lost, none extra");
    // The sender can afford every send and stays within its limits, so a crash is no excuse to fail one:
    // a retried step whose body differed from the first try would show here as a FAILED payment.
    for (const record of records) assert.equal(record.state, "COMPLETED", `${record.id} is ${record.state}`);
    await assertRecordsMatchLedger(records);
    const completed = records.filter((record) => record.state === "COMPLETED");
    const spent = completed.reduce((sum, record) => sum + BigInt(record.amount) + BigInt(record.fee), 0n);
    const received = completed.reduce((sum, record) => sum + BigInt(record.amount), 0n);
    books.credit(sender, "USD", -spent);
    books.credit(payee, "USD", received);
    books.fee("USD", spent - received);
    await assertBalances([sender, payee], books);
    await assertLedgerClean();
  });

  it("keeps a user's payments from other users (right codes), and a card number out of databases, logs and traces", async () => {
    const mallory = await platform.signUp(`mallory-${Date.now()}@example.com`);
    // Meanwhile a payment to an address nobody claims runs out its claim window (PAYMENTS_CLAIM_WINDOW_MS).
    const { payment: unclaimed } = await alice.payments.sendPayment({
      idempotencyKey: "send-to-nobody",
      recipient: { address: { case: "email", value: `nobody-${Date.now()}@example.com` } },
      amount: { currency: "BTC", amountMinor: "5555" },
      priority: Priority.INSTANT,
    });
    assert.ok(unclaimed);
    const target = refundedTransfer;
    assert.ok(target, "the first scenario's transfer");
    const denied = isCode(Code.PermissionDenied);
    // A stranger gets PERMISSION_DENIED, the same as for an id that does not exist, so ids cannot be probed.
    await assert.rejects(mallory.payments.getPayment({ paymentId: target.id }), denied);
    await assert.rejects(mallory.payments.getPayment({ paymentId: crypto.randomUUID() }), denied);
    await assert.rejects(mallory.payments.refundPayment({ idempotencyKey: "steal", paymentId: target.id }), denied);
    await assert.rejects(mallory.payments.receivePayment({ idempotencyKey: "steal-claim", paymentId: target.id }), denied);
    await assert.rejects(
      (async () => {
        for await (const _ of mallory.payments.watchPayment({ paymentId: target.id })) assert.fail("a stranger saw a state change");
      })(),
      denied,
    );
    for (const role of [PaymentRole.UNSPECIFIED, PaymentRole.SENDER, PaymentRole.RECIPIENT]) {
      const { payments } = await mallory.payments.listPayments({ role, pageSize: 100 });
      assert.deepEqual(payments, [], "a stranger lists nothing of others");
    }
    // No token at all: UNAUTHENTICATED; a bad id: INVALID_ARGUMENT naming the field.
    const anonymous = createClient(PaymentsService, createGrpcTransport({ baseUrl: platform.services.services.payments?.grpcUrl ?? "" }));
    await assert.rejects(anonymous.getPayment({ paymentId: target.id }), isCode(Code.Unauthenticated));
    await assert.rejects(mallory.payments.getPayment({ paymentId: "not-a-uuid" }), (error: unknown) => {
      return isCode(Code.InvalidArgument)(error) && /payment_id/.test((error as ConnectError).message);
    });
    // The ledger keeps the same line: mallory cannot read alice's wallet.
    const aliceWallet = (await walletsOf(alice)).get("USD");
    assert.ok(aliceWallet);
    await assert.rejects(mallory.ledger.getBalance({ accountId: aliceWallet.id }), denied);
    await assert.rejects(mallory.ledger.listAccounts({ ownerId: alice.userId }), denied);
    // The parties themselves do see it: the sender lists it, the recipient watches it.
    const { payments: alicesSent } = await alice.payments.listPayments({ role: PaymentRole.SENDER, pageSize: 100 });
    assert.ok(alicesSent.some((payment) => payment.id === target.id));
    for await (const update of bob.payments.watchPayment({ paymentId: target.id })) {
      assert.equal(PaymentState[update.payment?.state ?? 0], "PARTIALLY_REFUNDED");
      break;
    }

    // A card goes in (and, refused, with spaces and with a wrong check digit) and pays a deposit.
    const spaced = cards.privacy.replace(/(\d{4})(?=\d)/g, "$1 ");
    const wrongDigit = `${cards.privacy.slice(0, -1)}${(Number(cards.privacy.at(-1)) + 1) % 10}`;
    for (const number of [spaced, wrongDigit]) {
      await assert.rejects(
        mallory.payments.addPaymentMethod({
          idempotencyKey: `bad-card-${number.length}`,
          method: { case: "card", value: { number, expiryMonth: 12, expiryYear: 2099, securityCode: "737" } },
        }),
        (error: unknown) => isCode(Code.InvalidArgument)(error) && !(error as ConnectError).message.includes(number.slice(4)),
      );
    }
    const privacyCard = await addCard(mallory, cards.privacy);
    const deposited = await deposit(mallory, privacyCard, "USD", 1_000n);
    assert.equal(PaymentState[deposited.state], "COMPLETED");
    books.credit(mallory, "USD", 1_000n);
    const { paymentMethods } = await mallory.payments.listPaymentMethods({ pageSize: 10 });
    const shown = paymentMethods.find((method) => method.id === privacyCard);
    assert.equal(shown?.details.case, "card");
    assert.equal(shown.details.value.last4, cards.privacy.slice(-4));

    // Everything the platform wrote down: both databases, every process's output, every span exported.
    await platform.receiver.waitFor(
      (spans) =>
        spans.some((span) => span.serviceName === "payments" && span.name === "trustmesh.payments.v1.PaymentsService/AddPaymentMethod") &&
        spans.some((span) => span.serviceName === "payments" && span.name === "trustmesh.payments.v1.PaymentsService/Deposit"),
    );
    const paymentsDump = await dumpDatabase(platform.databaseUrls.payments, platform.paymentsDatabase);
    const ledgerDump = await dumpDatabase(platform.databaseUrls.ledger, platform.ledgerDatabase);
    const logs = (["auth", "ledger", "payments"] as const).map((name) => platform.output(name)).join("\n");
    assert.equal(platform.outputTruncated(), false, "every line the processes printed was kept for the search");
    const traces = JSON.stringify(platform.receiver.spans());
    // The searches reach what they should: the card's last four in payments' tables, the deposit in the ledger's,
    // debug lines of the card's RPC in the logs, its spans in the traces.
    assert.ok(paymentsDump.includes(cards.privacy.slice(-4)), "payments' dump holds the card's last four");
    assert.ok(ledgerDump.includes(deposited.id), "the ledger's dump holds the deposit");
    assert.ok(logs.includes("AddPaymentMethod"), "the logs cover the card's RPC");
    assert.ok(traces.includes("AddPaymentMethod"), "the traces cover the card's RPC");
    const haystacks = { "payments database": paymentsDump, "ledger database": ledgerDump, logs, traces };
    for (const number of Object.values(cards)) {
      for (const form of [number, number.replace(/(\d{4})(?=\d)/g, "$1 "), number.replace(/(\d{4})(?=\d)/g, "$1-")]) {
        for (const [where, text] of Object.entries(haystacks)) assert.ok(!text.includes(form), `${form} appears in the ${where}`);
      }
    }
    // The unclaimed payment expired back to alice: amount and fee, as if never sent.
    const expired = await settled(alice, unclaimed.id, [PaymentState.EXPIRED, PaymentState.COMPLETED, PaymentState.FAILED]);
    assert.equal(PaymentState[expired.state], "EXPIRED");
    await assertBalances([alice, bob, mallory], books);
    await assertLedgerClean();
  });
});
