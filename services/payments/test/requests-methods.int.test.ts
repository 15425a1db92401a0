// Goal: requests, payment methods, deposits and withdrawals through the
// handlers on real Postgres and Redis (ledger and directory doubles): a request
// is paid once (PAID when its payment completes), declined or cancelled only by
// its side; methods are checked and stored masked, a card number nowhere in the
// database; deposits and withdrawals follow the sandbox rail's test numbers to
// COMPLETED, RAIL_DECLINED or RAIL_FAILED (fail late), settling through the
// settlement account with fees in fee revenue; GetLimits shows use.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import {
  BankAccountType,
  CryptoNetwork,
  PaymentFailureReason,
  PaymentMethodStatus,
  PaymentRequestState,
  Priority,
  RequestRole,
} from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import { rejectsWith } from "./support/expect.ts";
import { type Harness, type PaymentsClient, startHarness } from "./support/harness.ts";

const money = (currency: string, amountMinor: string | number) => ({ currency, amountMinor: String(amountMinor) });

describe("requests, payment methods, deposits and withdrawals", function () {
  this.timeout(60_000);
  let harness: Harness;
  const rita = randomUUID();
  const paul = randomUUID();
  let ritaClient: PaymentsClient;
  let paulClient: PaymentsClient;

  before(async () => {
    harness = await startHarness({ failLateAfterMs: 300 });
    harness.auth.addUser(rita, "rita@example.com");
    harness.auth.addUser(paul, "paul@example.com", "+14155550199");
    harness.ledger.fund(paul, "EUR", 100_00n);
    ritaClient = await harness.client(rita);
    paulClient = await harness.client(paul);
  });

  after(async () => {
    await harness?.close();
  });

  it("requests money, lets only the payer pay it once, and marks it PAID", async () => {
    const asked = await ritaClient.requestPayment({
      idempotencyKey: "req-1",
      payer: { address: { case: "phone", value: "+14155550199" } },
      amount: money("EUR", 1_500),
      memo: "tickets",
    });
    const id = asked.request?.id ?? "";
    assert.equal(asked.request?.state, PaymentRequestState.OPEN);
    assert.equal(asked.request?.payerUserId, paul);
    assert.equal(
      (
        await ritaClient.requestPayment({
          idempotencyKey: "req-1",
          payer: { address: { case: "phone", value: "+14155550199" } },
          amount: money("EUR", 1_500),
          memo: "tickets",
        })
      ).replayed,
      true,
    );
    await assert.rejects(
      ritaClient.payRequest({ idempotencyKey: "pay", requestId: id, priority: Priority.STANDARD }),
      rejectsWith(Code.PermissionDenied),
    );
    await assert.rejects(
      ritaClient.requestPayment({ idempotencyKey: "self", payer: { address: { case: "userId", value: rita } }, amount: money("EUR", 1) }),
      rejectsWith(Code.InvalidArgument, /payer/),
    );
    await assert.rejects(
      paulClient.payRequest({ idempotencyKey: "pay-usd-fee", requestId: id, priority: Priority.STANDARD, maxFee: money("USD", 100) }),
      rejectsWith(Code.InvalidArgument, /max_fee\.currency: must be EUR, the request's currency/),
    );
    const paid = await paulClient.payRequest({ idempotencyKey: "pay", requestId: id, priority: Priority.STANDARD });
    assert.equal(paid.request?.paymentId, paid.payment?.id);
    await assert.rejects(
      paulClient.payRequest({ idempotencyKey: "pay-again", requestId: id, priority: Priority.STANDARD }),
      rejectsWith(Code.FailedPrecondition, /request_id/),
    );
    await harness.waitForState(paid.payment?.id ?? "", ["COMPLETED"]);
    const listed = await paulClient.listRequests({ role: RequestRole.PAYER });
    assert.equal(listed.requests.find((request) => request.id === id)?.state, PaymentRequestState.PAID);
    assert.equal(harness.ledger.posted(harness.ledger.walletOf(rita, "EUR") ?? ""), 1_500n);
    await assert.rejects(paulClient.declineRequest({ requestId: id }), rejectsWith(Code.FailedPrecondition));
  });

  it("declines and cancels only from the right side, idempotently", async () => {
    const first = await ritaClient.requestPayment({
      idempotencyKey: "req-2",
      payer: { address: { case: "userId", value: paul } },
      amount: money("EUR", 10),
    });
    const second = await ritaClient.requestPayment({
      idempotencyKey: "req-3",
      payer: { address: { case: "email", value: "paul@example.com" } },
      amount: money("EUR", 20),
    });
    await assert.rejects(ritaClient.declineRequest({ requestId: first.request?.id ?? "" }), rejectsWith(Code.PermissionDenied));
    await assert.rejects(paulClient.cancelRequest({ requestId: second.request?.id ?? "" }), rejectsWith(Code.PermissionDenied));
    const declined = await paulClient.declineRequest({ requestId: first.request?.id ?? "", reason: "not mine" });
    assert.equal(declined.request?.state, PaymentRequestState.DECLINED);
    assert.equal((await paulClient.declineRequest({ requestId: first.request?.id ?? "" })).request?.declineReason, "not mine");
    assert.equal((await ritaClient.cancelRequest({ requestId: second.request?.id ?? "" })).request?.state, PaymentRequestState.CANCELED);
    assert.equal((await ritaClient.cancelRequest({ requestId: second.request?.id ?? "" })).request?.state, PaymentRequestState.CANCELED);
    await assert.rejects(
      paulClient.payRequest({ idempotencyKey: "pay-x", requestId: second.request?.id ?? "", priority: Priority.STANDARD }),
      rejectsWith(Code.FailedPrecondition, /request_id/),
    );
    await assert.rejects(ritaClient.cancelRequest({ requestId: "not-a-uuid" }), rejectsWith(Code.InvalidArgument, /request_id/));
  });

  it("adds methods checked and masked, and never stores the card number", async () => {
    const card = await ritaClient.addPaymentMethod({
      idempotencyKey: "card-1",
      label: "visa",
      method: {
        case: "card",
        value: { number: "4242424242424242", expiryMonth: 12, expiryYear: 2099, securityCode: "123", cardholderName: "Rita" },
      },
    });
    assert.equal(card.paymentMethod?.details.case, "card");
    assert.equal(card.paymentMethod?.details.case === "card" && card.paymentMethod.details.value.last4, "4242");
    const replay = await ritaClient.addPaymentMethod({
      idempotencyKey: "card-1",
      label: "visa",
      method: {
        case: "card",
        value: { number: "4242424242424242", expiryMonth: 12, expiryYear: 2099, securityCode: "123", cardholderName: "Rita" },
      },
    });
    assert.equal(replay.replayed, true);
    await assert.rejects(
      ritaClient.addPaymentMethod({
        idempotencyKey: "card-2",
        method: { case: "card", value: { number: "4242424242424241", expiryMonth: 12, expiryYear: 2099, securityCode: "123" } },
      }),
      rejectsWith(Code.InvalidArgument, /card.number/),
    );
    await assert.rejects(
      ritaClient.addPaymentMethod({
        idempotencyKey: "card-3",
        method: { case: "card", value: { number: "4242424242424242", expiryMonth: 1, expiryYear: 2001, securityCode: "123" } },
      }),
      rejectsWith(Code.InvalidArgument, /expiry/),
    );
    const us = await ritaClient.addPaymentMethod({
      idempotencyKey: "us-1",
      method: {
        case: "bankAccount",
        value: {
          accountHolderName: "Rita",
          scheme: {
            case: "usAccount",
            value: { routingNumber: "110000000", accountNumber: "000123456789", accountType: BankAccountType.CHECKING },
          },
        },
      },
    });
    assert.deepEqual(us.paymentMethod?.currencies, ["USD"]);
    await assert.rejects(
      ritaClient.addPaymentMethod({
        idempotencyKey: "us-2",
        method: {
          case: "bankAccount",
          value: {
            accountHolderName: "Rita",
            scheme: {
              case: "usAccount",
              value: { routingNumber: "110000001", accountNumber: "000123456789", accountType: BankAccountType.CHECKING },
            },
          },
        },
      }),
      rejectsWith(Code.InvalidArgument, /routing_number/),
    );
    await assert.rejects(
      ritaClient.addPaymentMethod({
        idempotencyKey: "eth-1",
        method: { case: "cryptoWallet", value: { network: CryptoNetwork.ETHEREUM, address: "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed" } },
      }),
      rejectsWith(Code.InvalidArgument, /crypto_wallet.address/),
    );
    const dump = await harness.query<{ row: string }>(
      "SELECT row_to_json(t)::text AS row FROM (SELECT * FROM payment_method) t UNION ALL SELECT row_to_json(k)::text FROM idempotency_key k",
    );
    const text = dump.map((row) => row.row).join("\n");
    assert.ok(!text.includes("4242424242424242"), "the card number is stored nowhere");
    assert.ok(!text.includes("000123456789"), "the US account number is stored only sealed");
    const listed = await ritaClient.listPaymentMethods({});
    assert.equal(listed.paymentMethods.length, 2);
    const removed = await ritaClient.removePaymentMethod({ paymentMethodId: us.paymentMethod?.id ?? "" });
    assert.equal(removed.paymentMethod?.status, PaymentMethodStatus.REMOVED);
    assert.equal((await ritaClient.listPaymentMethods({})).paymentMethods.length, 1);
    assert.equal((await ritaClient.listPaymentMethods({ includeRemoved: true })).paymentMethods.length, 2);
    await assert.rejects(
      paulClient.removePaymentMethod({ paymentMethodId: card.paymentMethod?.id ?? "" }),
      rejectsWith(Code.PermissionDenied),
    );
    await assert.rejects(
      ritaClient.deposit({
        idempotencyKey: "dep-removed",
        paymentMethodId: us.paymentMethod?.id ?? "",
        amount: money("USD", 100),
        priority: Priority.STANDARD,
      }),
      rejectsWith(Code.FailedPrecondition, /removed/),
    );
  });

  async function addCard(client: PaymentsClient, number: string): Promise<string> {
    const added = await client.addPaymentMethod({
      idempotencyKey: `card-${number}`,
      method: { case: "card", value: { number, expiryMonth: 12, expiryYear: 2099, securityCode: "123" } },
    });
    return added.paymentMethod?.id ?? "";
  }

  it("deposits through the sandbox: success settles into the wallet with the fee in fee revenue; decline and late failure move nothing", async () => {
    const good = await addCard(ritaClient, "5555555555554444");
    const deposit = await ritaClient.deposit({
      idempotencyKey: "dep-1",
      paymentMethodId: good,
      amount: money("USD", 10_000),
      priority: Priority.EXPRESS,
    });
    const fee = BigInt(deposit.payment?.fee?.amountMinor ?? "0");
    assert.equal(await harness.waitForState(deposit.payment?.id ?? "", ["COMPLETED", "FAILED"]), "COMPLETED");
    const wallet = harness.ledger.walletOf(rita, "USD") ?? "";
    assert.equal(harness.ledger.posted(wallet), 10_000n);
    assert.equal(harness.ledger.posted(harness.ledger.systemAccount("system:fee_revenue:USD") ?? ""), fee);
    assert.equal(harness.ledger.posted(harness.ledger.systemAccount("system:settlement:USD") ?? ""), 0n);
    assert.equal(harness.ledger.posted(harness.ledger.systemAccount("system:external:sandbox:USD") ?? ""), -(10_000n + fee));

    const declined = await ritaClient.deposit({
      idempotencyKey: "dep-2",
      paymentMethodId: await addCard(ritaClient, "4000000000000002"),
      amount: money("USD", 500),
      priority: Priority.STANDARD,
    });
    assert.equal(await harness.waitForState(declined.payment?.id ?? "", ["COMPLETED", "FAILED"]), "FAILED");
    assert.equal(
      (await ritaClient.getPayment({ paymentId: declined.payment?.id ?? "" })).payment?.failureReason,
      PaymentFailureReason.RAIL_DECLINED,
    );
    const late = await ritaClient.deposit({
      idempotencyKey: "dep-3",
      paymentMethodId: await addCard(ritaClient, "4000000000000341"),
      amount: money("USD", 500),
      priority: Priority.STANDARD,
    });
    assert.equal(await harness.waitForState(late.payment?.id ?? "", ["COMPLETED", "FAILED"]), "FAILED");
    const lateRead = (await ritaClient.getPayment({ paymentId: late.payment?.id ?? "" })).payment;
    assert.equal(lateRead?.failureReason, PaymentFailureReason.RAIL_FAILED);
    assert.ok(lateRead?.railReference);
    assert.equal(harness.ledger.posted(wallet), 10_000n, "failed deposits moved nothing");
    assert.equal(harness.ledger.openPending(), 0);
    await assert.rejects(
      ritaClient.deposit({ idempotencyKey: "dep-4", paymentMethodId: good, amount: money("BTC", 1), priority: Priority.STANDARD }),
      rejectsWith(Code.InvalidArgument, /currency/),
    );
    await assert.rejects(
      paulClient.deposit({ idempotencyKey: "dep-5", paymentMethodId: good, amount: money("USD", 1), priority: Priority.STANDARD }),
      rejectsWith(Code.PermissionDenied),
    );
  });

  it("withdraws to an IBAN, counting against limits; a fail-late IBAN returns the money", async () => {
    const iban = await paulClient.addPaymentMethod({
      idempotencyKey: "iban-ok",
      method: {
        case: "bankAccount",
        value: { accountHolderName: "Paul", scheme: { case: "iban", value: { iban: "DE89370400440532013000", bic: "" } } },
      },
    });
    const failing = await paulClient.addPaymentMethod({
      idempotencyKey: "iban-late",
      method: {
        case: "bankAccount",
        value: { accountHolderName: "Paul", scheme: { case: "iban", value: { iban: "DE62370400440532013001", bic: "" } } },
      },
    });
    const wallet = harness.ledger.walletOf(paul, "EUR") ?? "";
    const before = harness.ledger.posted(wallet);
    const out = await paulClient.withdraw({
      idempotencyKey: "wd-1",
      paymentMethodId: iban.paymentMethod?.id ?? "",
      amount: money("EUR", 2_000),
      priority: Priority.STANDARD,
    });
    assert.equal(await harness.waitForState(out.payment?.id ?? "", ["COMPLETED", "FAILED"]), "COMPLETED");
    assert.equal(harness.ledger.posted(wallet), before - 2_000n - BigInt(out.payment?.fee?.amountMinor ?? "0"));
    const lateOut = await paulClient.withdraw({
      idempotencyKey: "wd-2",
      paymentMethodId: failing.paymentMethod?.id ?? "",
      amount: money("EUR", 1_000),
      priority: Priority.STANDARD,
    });
    assert.equal(await harness.waitForState(lateOut.payment?.id ?? "", ["COMPLETED", "FAILED"]), "FAILED");
    assert.equal(harness.ledger.posted(wallet), before - 2_000n - BigInt(out.payment?.fee?.amountMinor ?? "0"));
    const limits = await paulClient.getLimits({ currency: "EUR" });
    // The request paid (1500), the withdrawal (2000); the failed one was given back.
    assert.equal(limits.limits[0]?.daily?.used?.amountMinor, "3500");
    await assert.rejects(
      paulClient.withdraw({
        idempotencyKey: "wd-3",
        paymentMethodId: iban.paymentMethod?.id ?? "",
        amount: money("USD", 1),
        priority: Priority.STANDARD,
      }),
      rejectsWith(Code.InvalidArgument, /currency/),
    );
    await assert.rejects(paulClient.getLimits({ currency: "XXX" }), rejectsWith(Code.InvalidArgument, /currency/));
    assert.equal((await (await harness.client(paul, ["verified"])).getLimits({ currency: "EUR" })).tier, "verified");
  });
});
