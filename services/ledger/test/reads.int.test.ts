// Goal: reading the ledger through the real process over gRPC — balances now
// and at a past moment; an account's entries page by page in both orders
// without repeats, with filters and running balances; daily/weekly/monthly
// reports with volume, counts, fees and rail flows; VerifyChain and Reconcile
// on a healthy ledger, including an external anchor; the business metrics on
// /metrics — and bad input to each refused with INVALID_ARGUMENT naming the field.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { LedgerService } from "@trustmesh/api";
import { ChainBreakReason, EntryDirection, ReportPeriod, TransactionKind } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import { balanceOf, createWallet, posting, systemAccount, transfer } from "./support/fixtures.ts";
import { assertGrpcError, type LedgerPlatform, startLedgerPlatform } from "./support/ledger-platform.ts";

const methods = LedgerService.method;

describe("ledger reads, reports and audits over gRPC", function () {
  this.timeout(120_000);
  let platform: LedgerPlatform;
  let payments: string;
  let admin: string;
  let world: string;
  let fees: string;
  let alice: string;
  let bob: string;
  let beforePayments: Date;

  before(async () => {
    platform = await startLedgerPlatform();
    payments = await platform.serviceToken("payments");
    admin = await platform.userToken(randomUUID(), ["admin"]);
    world = await systemAccount(platform, payments, "system:external:sandbox", "USD");
    fees = await systemAccount(platform, payments, "system:fee_revenue", "USD");
    alice = await createWallet(platform, payments, randomUUID(), "USD");
    bob = await createWallet(platform, payments, randomUUID(), "USD");
    await transfer(platform, payments, [posting(world, alice, "USD", 10_000n)], { reference: "deposit-1" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    beforePayments = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Twelve payments of 100 with a fee of 1 each, then a withdrawal and an open reservation.
    for (let index = 0; index < 12; index++) {
      await transfer(platform, payments, [posting(alice, bob, "USD", 100n), posting(alice, fees, "USD", 1n)], {
        reference: `payment-${index}`,
      });
    }
    await transfer(platform, payments, [posting(bob, world, "USD", 200n)], { reference: "withdrawal-1" });
    await transfer(platform, payments, [posting(alice, bob, "USD", 500n)], { pending: true, reference: "hold-1" });
  });

  after(async () => {
    await platform?.stop();
  });

  it("reads posted, pending and available balances now and at a past moment", async () => {
    const now = await balanceOf(platform, payments, alice);
    assert.deepEqual(
      [now.postedMinor, now.pendingMinor, now.availableMinor, now.debitsPosted?.amountMinor, now.creditsPosted?.amountMinor],
      ["8788", "-500", "8288", "1212", "10000"],
    );
    assert.ok(now.sequence > 0n);
    const past = await platform.call(methods.getBalance, { accountId: alice, asOf: timestampFromDate(beforePayments) }, payments);
    assert.deepEqual([past.balance?.postedMinor, past.balance?.availableMinor, past.balance?.pendingMinor], ["10000", "10000", "0"]);
    assert.equal(past.balance?.sequence, 1n);
  });

  it("refuses bad GetBalance input: a future moment, a malformed id; an unknown account is NOT_FOUND", async () => {
    await assertGrpcError(
      platform.call(methods.getBalance, { accountId: alice, asOf: timestampFromDate(new Date(Date.now() + 60_000)) }, payments),
      status.INVALID_ARGUMENT,
      /as_of/,
    );
    await assertGrpcError(platform.call(methods.getBalance, { accountId: "nope" }, payments), status.INVALID_ARGUMENT, /account_id/);
    await assertGrpcError(platform.call(methods.getBalance, { accountId: randomUUID() }, payments), status.NOT_FOUND);
  });

  it("lists an account's entries newest first and oldest first, page by page, with running balances", async () => {
    const collect = async (oldestFirst: boolean) => {
      const entries = [];
      let pageToken = "";
      do {
        const page = await platform.call(methods.listEntries, { accountId: alice, pageSize: 5, pageToken, oldestFirst }, payments);
        entries.push(...page.entries);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return entries;
    };
    const newest = await collect(false);
    const oldest = await collect(true);
    assert.equal(oldest.length, 1 + 12 * 2 + 1);
    assert.deepEqual(
      newest.map((entry) => entry.id),
      oldest.map((entry) => entry.id).reverse(),
    );
    assert.equal(new Set(oldest.map((entry) => entry.id)).size, oldest.length);
    // Running balances add up along the statement.
    let posted = 0n;
    for (const entry of oldest) {
      if (entry.transactionKind === TransactionKind.POSTED) {
        posted += (entry.direction === EntryDirection.CREDIT ? 1n : -1n) * BigInt(entry.amount?.amountMinor ?? "0");
      }
      assert.equal(entry.postedBalanceAfterMinor, posted.toString());
    }
    assert.equal(oldest.at(-1)?.availableBalanceAfterMinor, "8288");
    const first = oldest[0];
    assert.ok(first);
    assert.equal(first.counterpartyAccountId, world);
    assert.equal(first.reference, "deposit-1");
  });

  it("filters entries by direction, kind, reference, transaction and time", async () => {
    const credits = await platform.call(methods.listEntries, { accountId: alice, direction: EntryDirection.CREDIT }, payments);
    assert.equal(credits.entries.length, 1);
    const pending = await platform.call(methods.listEntries, { accountId: alice, kinds: [TransactionKind.PENDING] }, payments);
    assert.deepEqual(
      pending.entries.map((entry) => entry.reference),
      ["hold-1"],
    );
    const byReference = await platform.call(methods.listEntries, { accountId: alice, reference: "payment-3" }, payments);
    assert.equal(byReference.entries.length, 2);
    const byTransaction = await platform.call(
      methods.listEntries,
      { accountId: alice, transactionId: byReference.entries[0]?.transactionId ?? "" },
      payments,
    );
    assert.equal(byTransaction.entries.length, 2);
    const before = await platform.call(methods.listEntries, { accountId: alice, endTime: timestampFromDate(beforePayments) }, payments);
    assert.deepEqual(
      before.entries.map((entry) => entry.reference),
      ["deposit-1"],
    );
    const after = await platform.call(
      methods.listEntries,
      { accountId: alice, startTime: timestampFromDate(beforePayments), pageSize: 1000 },
      payments,
    );
    assert.equal(after.entries.length, 25);
  });

  it("refuses bad ListEntries input naming the field", async () => {
    const cases: [object, RegExp][] = [
      [{ accountId: alice, pageSize: 1001 }, /page_size/],
      [{ accountId: alice, pageToken: "bad" }, /page_token/],
      [{ accountId: alice, startTime: timestampFromDate(new Date(2000)), endTime: timestampFromDate(new Date(1000)) }, /start_time/],
      [{ accountId: alice, kinds: [TransactionKind.UNSPECIFIED] }, /kinds/],
      [{ accountId: alice, transactionId: "x" }, /transaction_id/],
      [{ accountId: "x" }, /account_id/],
    ];
    for (const [request, field] of cases) {
      await assertGrpcError(platform.call(methods.listEntries, request, payments), status.INVALID_ARGUMENT, field);
    }
    const first = await platform.call(methods.listEntries, { accountId: alice, pageSize: 1 }, payments);
    await assertGrpcError(
      platform.call(methods.listEntries, { accountId: alice, pageSize: 1, oldestFirst: true, pageToken: first.nextPageToken }, payments),
      status.INVALID_ARGUMENT,
      /page_token/,
    );
  });

  it("reports daily, weekly and monthly volume, counts, fees and rail flows per currency", async () => {
    for (const period of [ReportPeriod.DAILY, ReportPeriod.WEEKLY, ReportPeriod.MONTHLY]) {
      const report = await platform.call(
        methods.getReport,
        { period, startTime: timestampFromDate(new Date()), timeZone: "Europe/Berlin" },
        admin,
      );
      assert.equal(report.buckets.length, 1);
      assert.equal(report.timeZone, "Europe/Berlin");
      const bucket = report.buckets[0];
      assert.ok(bucket?.startTime && bucket.endTime);
      const usd = bucket.currencies.find((activity) => activity.currency === "USD");
      assert.ok(usd, `${ReportPeriod[period]} has USD activity`);
      // Deposit 10000, 12 × (100 + 1), withdrawal 200; the hold is not volume.
      assert.equal(usd.volume?.amountMinor, String(10_000 + 12 * 101 + 200));
      assert.equal(usd.transactionCount, 14n);
      assert.equal(usd.postingCount, 26n);
      assert.equal(usd.fees?.amountMinor, "12");
      assert.equal(usd.deposits?.amountMinor, "10000");
      assert.equal(usd.withdrawals?.amountMinor, "200");
      assert.equal(usd.pendingOpenedCount, 1n);
      assert.ok(report.asOfSequence >= 15n);
    }
    const daily = await platform.call(
      methods.getReport,
      {
        period: ReportPeriod.DAILY,
        startTime: timestampFromDate(new Date(Date.now() - 3 * 86_400_000)),
        periodCount: 3,
        currencies: ["EUR"],
      },
      admin,
    );
    assert.equal(daily.buckets.length, 3);
    assert.equal(daily.timeZone, "UTC");
    assert.ok(daily.buckets.every((bucket) => bucket.currencies.length === 0));
    const start = daily.buckets[0]?.startTime;
    assert.equal(Number(start?.seconds ?? 1n) % 86_400, 0, "UTC days start at midnight");
  });

  it("refuses bad report input naming the field", async () => {
    const start = timestampFromDate(new Date());
    await assertGrpcError(
      platform.call(methods.getReport, { period: ReportPeriod.DAILY, startTime: start, timeZone: "Mars/Olympus" }, admin),
      status.INVALID_ARGUMENT,
      /time_zone/,
    );
    await assertGrpcError(platform.call(methods.getReport, { startTime: start }, admin), status.INVALID_ARGUMENT, /period/);
    await assertGrpcError(platform.call(methods.getReport, { period: ReportPeriod.DAILY }, admin), status.INVALID_ARGUMENT, /start_time/);
    await assertGrpcError(
      platform.call(methods.getReport, { period: ReportPeriod.DAILY, startTime: start, periodCount: 367 }, admin),
      status.INVALID_ARGUMENT,
      /period_count/,
    );
    await assertGrpcError(
      platform.call(methods.getReport, { period: ReportPeriod.DAILY, startTime: start, currencies: ["USD", "USD"] }, admin),
      status.INVALID_ARGUMENT,
      /currencies/,
    );
  });

  it("verifies an intact chain, whole or in part, and reports a mismatching external anchor", async () => {
    const whole = await platform.call(methods.verifyChain, {}, admin);
    const verification = whole.verification;
    assert.ok(verification);
    assert.equal(verification.intact, true);
    assert.equal(verification.firstSequence, 1n);
    assert.equal(verification.checkedCount, verification.lastSequence);
    assert.equal(verification.lastHash.length, 32);
    const part = await platform.call(methods.verifyChain, { fromSequence: 3n, toSequence: 5n }, admin);
    assert.deepEqual([part.verification?.intact, part.verification?.checkedCount], [true, 3n]);
    const anchored = await platform.call(
      methods.verifyChain,
      { toSequence: verification.lastSequence, expectedLastHash: verification.lastHash },
      admin,
    );
    assert.equal(anchored.verification?.intact, true);
    const wrongAnchor = await platform.call(methods.verifyChain, { toSequence: 5n, expectedLastHash: new Uint8Array(32).fill(1) }, admin);
    assert.equal(wrongAnchor.verification?.intact, false);
    assert.equal(wrongAnchor.verification?.breaks[0]?.reason, ChainBreakReason.ANCHOR_MISMATCH);
    assert.equal(wrongAnchor.verification?.breaks[0]?.sequence, 5n);
  });

  it("refuses bad VerifyChain input naming the field", async () => {
    await assertGrpcError(
      platform.call(methods.verifyChain, { fromSequence: 5n, toSequence: 2n }, admin),
      status.INVALID_ARGUMENT,
      /to_sequence/,
    );
    await assertGrpcError(
      platform.call(methods.verifyChain, { expectedLastHash: new Uint8Array(31) }, admin),
      status.INVALID_ARGUMENT,
      /expected_last_hash/,
    );
    await assertGrpcError(platform.call(methods.verifyChain, { fromSequence: 2n ** 63n }, admin), status.INVALID_ARGUMENT, /from_sequence/);
  });

  it("reconciles a healthy ledger as clean, whole or scoped, with every currency summing to zero", async () => {
    const whole = await platform.call(methods.reconcile, {}, admin);
    const report = whole.report;
    assert.ok(report);
    assert.deepEqual(report.discrepancies, []);
    assert.equal(report.clean, true);
    assert.equal(report.chain?.intact, true);
    assert.ok(report.accountsChecked >= 26n);
    assert.ok(report.entriesChecked >= 2n * 15n);
    assert.deepEqual(
      report.currencyTotals.map((total) => [total.currency, total.postedMinor, total.pendingMinor]),
      ["USD", "EUR", "USDC", "EURC", "BTC", "ETH"].map((currency) => [currency, "0", "0"]),
    );
    const scoped = await platform.call(methods.reconcile, { accountIds: [alice], currencies: ["USD"] }, admin);
    assert.equal(scoped.report?.accountsChecked, 1n);
    assert.equal(scoped.report?.clean, true);
    const metrics = await (await fetch(platform.metricsUrl)).text();
    assert.match(metrics, /ledger_reconciliation_ok\{[^}]*\} 1/);
    assert.match(metrics, /ledger_chain_ok\{[^}]*\} 1/);
  });

  it("refuses bad Reconcile input naming the field", async () => {
    await assertGrpcError(platform.call(methods.reconcile, { currencies: ["XRP"] }, admin), status.INVALID_ARGUMENT, /currencies/);
    await assertGrpcError(platform.call(methods.reconcile, { accountIds: ["x"] }, admin), status.INVALID_ARGUMENT, /account_ids/);
  });

  it("exports postings by currency, batch sizes, open pending count and chain length on /metrics", async () => {
    const metrics = await (await fetch(platform.metricsUrl)).text();
    assert.match(metrics, /ledger_postings_total\{[^}]*currency="USD"[^}]*kind="POSTED"[^}]*\} 2[0-9]/);
    assert.match(metrics, /ledger_batch_size_count\{[^}]*\} [1-9]/);
    assert.match(metrics, /ledger_pending_transactions\{[^}]*\} 1\b/);
    const head = await platform.sql<{ sequence: string }>("SELECT sequence FROM chain_head");
    assert.match(metrics, new RegExp(`ledger_chain_length\\{[^}]*\\} ${head[0]?.sequence}\\b`));
  });
});
