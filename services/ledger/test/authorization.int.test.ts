// Goal: only the payments service moves money or creates wallets; a user reads
// only their own accounts, balances and entries (another user's account is
// PERMISSION_DENIED whether it exists or not); only admins reconcile, verify
// the chain and read reports; anonymous callers are UNAUTHENTICATED — checked
// against the real ledger process with tokens signed by the real auth's key.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { LedgerService } from "@trustmesh/api";
import { AccountKind, ReportPeriod } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import { createWallet, posting, systemAccount, transfer } from "./support/fixtures.ts";
import { assertGrpcError, type LedgerPlatform, startLedgerPlatform } from "./support/ledger-platform.ts";

const methods = LedgerService.method;

describe("ledger authorization", function () {
  this.timeout(120_000);
  let platform: LedgerPlatform;
  let payments: string;
  let face: string;
  let aliceId: string;
  let bobId: string;
  let aliceToken: string;
  let adminToken: string;
  let aliceWallet: string;
  let bobWallet: string;
  let world: string;

  before(async () => {
    platform = await startLedgerPlatform();
    payments = await platform.serviceToken("payments");
    face = await platform.serviceToken("face");
    aliceId = randomUUID();
    bobId = randomUUID();
    aliceToken = await platform.userToken(aliceId);
    adminToken = await platform.userToken(randomUUID(), ["admin"]);
    aliceWallet = await createWallet(platform, payments, aliceId, "USD");
    bobWallet = await createWallet(platform, payments, bobId, "USD");
    world = await systemAccount(platform, payments, "system:external:sandbox", "USD");
    await transfer(platform, payments, [posting(world, aliceWallet, "USD", 500n)]);
    await transfer(platform, payments, [posting(world, bobWallet, "USD", 700n)]);
  });

  after(async () => {
    await platform?.stop();
  });

  const newTransaction = () => ({
    transaction: { idempotencyKey: `k-${randomUUID()}`, postings: [posting(aliceWallet, bobWallet, "USD", 1n)] },
  });

  it("lets only payments post; users, admins and other services are PERMISSION_DENIED and nothing moves", async () => {
    for (const token of [aliceToken, adminToken, face]) {
      await assertGrpcError(platform.call(methods.postTransaction, newTransaction(), token), status.PERMISSION_DENIED);
      await assertGrpcError(
        platform.call(methods.postTransactions, { transactions: [newTransaction().transaction] }, token),
        status.PERMISSION_DENIED,
      );
      await assertGrpcError(
        platform.call(methods.postPending, { pendingTransactionId: randomUUID(), idempotencyKey: "k" }, token),
        status.PERMISSION_DENIED,
      );
      await assertGrpcError(
        platform.call(methods.voidPending, { pendingTransactionId: randomUUID(), idempotencyKey: "k" }, token),
        status.PERMISSION_DENIED,
      );
    }
    await assertGrpcError(platform.call(methods.postTransaction, newTransaction()), status.UNAUTHENTICATED);
    const balance = await platform.call(methods.getBalance, { accountId: aliceWallet }, payments);
    assert.equal(balance.balance?.postedMinor, "500");
    const posted = await platform.call(methods.postTransaction, newTransaction(), payments);
    assert.ok(posted.transaction);
  });

  it("lets only payments and admins create accounts", async () => {
    const request = {
      idempotencyKey: `wallet-${randomUUID()}`,
      ownerId: aliceId,
      currency: "EUR",
      kind: AccountKind.USER_WALLET,
      flags: { debitsMustNotExceedCredits: true },
    };
    await assertGrpcError(platform.call(methods.createAccount, request, aliceToken), status.PERMISSION_DENIED);
    await assertGrpcError(platform.call(methods.createAccount, request, face), status.PERMISSION_DENIED);
    const mine = await platform.call(methods.listAccounts, { ownerId: aliceId }, aliceToken);
    assert.deepEqual(
      mine.accounts.map((account) => account.currency),
      ["USD"],
    );
  });

  it("lets a user read their own account, balance and entries", async () => {
    const account = await platform.call(methods.getAccount, { selector: { case: "accountId", value: aliceWallet } }, aliceToken);
    assert.equal(account.account?.ownerId, aliceId);
    const balance = await platform.call(methods.getBalance, { accountId: aliceWallet }, aliceToken);
    assert.ok(BigInt(balance.balance?.postedMinor ?? "0") > 0n);
    const entries = await platform.call(methods.listEntries, { accountId: aliceWallet }, aliceToken);
    assert.ok(entries.entries.length > 0);
    assert.ok(entries.entries.every((entry) => entry.accountId === aliceWallet));
    const listed = await platform.call(methods.listAccounts, { ownerId: aliceId }, aliceToken);
    assert.deepEqual(
      listed.accounts.map((listedAccount) => listedAccount.id),
      [aliceWallet],
    );
  });

  it("refuses a user another user's account, balance, entries and list — and system accounts — with PERMISSION_DENIED", async () => {
    const denied = [
      () => platform.call(methods.getAccount, { selector: { case: "accountId", value: bobWallet } }, aliceToken),
      () => platform.call(methods.getAccount, { selector: { case: "address", value: "system:external:sandbox:USD" } }, aliceToken),
      () => platform.call(methods.getBalance, { accountId: bobWallet }, aliceToken),
      () => platform.call(methods.getBalance, { accountId: world }, aliceToken),
      () => platform.call(methods.listEntries, { accountId: bobWallet }, aliceToken),
      () => platform.call(methods.listAccounts, { ownerId: bobId }, aliceToken),
      () => platform.call(methods.listAccounts, {}, aliceToken),
      // An account that does not exist is denied the same way, so ids cannot be probed.
      () => platform.call(methods.getBalance, { accountId: randomUUID() }, aliceToken),
    ];
    for (const call of denied) await assertGrpcError(call(), status.PERMISSION_DENIED);
    // Admins are not owners either: the contract does not admit them to users' balances.
    await assertGrpcError(platform.call(methods.getBalance, { accountId: bobWallet }, adminToken), status.PERMISSION_DENIED);
  });

  it("lets only admins reconcile, verify the chain and read reports", async () => {
    const report = { period: ReportPeriod.DAILY, startTime: timestampFromDate(new Date()) };
    for (const token of [aliceToken, payments, face]) {
      await assertGrpcError(platform.call(methods.reconcile, {}, token), status.PERMISSION_DENIED);
      await assertGrpcError(platform.call(methods.verifyChain, {}, token), status.PERMISSION_DENIED);
      await assertGrpcError(platform.call(methods.getReport, report, token), status.PERMISSION_DENIED);
    }
    assert.equal((await platform.call(methods.verifyChain, {}, adminToken)).verification?.intact, true);
    assert.equal((await platform.call(methods.reconcile, {}, adminToken)).report?.clean, true);
    assert.ok((await platform.call(methods.getReport, report, adminToken)).buckets.length === 1);
  });

  it("refuses every RPC to anonymous callers and to tokens not addressed to ledger", async () => {
    await assertGrpcError(platform.call(methods.getBalance, { accountId: aliceWallet }), status.UNAUTHENTICATED);
    await assertGrpcError(platform.call(methods.listAccounts, { ownerId: aliceId }), status.UNAUTHENTICATED);
    await assertGrpcError(platform.call(methods.reconcile, {}), status.UNAUTHENTICATED);
    await assertGrpcError(platform.call(methods.postTransaction, newTransaction(), `${payments}x`), status.UNAUTHENTICATED);
  });
});
