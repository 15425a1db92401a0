// Goal: accounts through the real ledger process over gRPC — system accounts
// exist from the start; CreateAccount is idempotent (replay returns the first
// account, another body under the key is ALREADY_EXISTS) and enforces one
// wallet per owner and currency, wallet flags and unique addresses; GetAccount
// and ListAccounts find accounts by id, address and filters and page through
// them without repeats; bad input of each gets INVALID_ARGUMENT naming the field.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { LedgerService } from "@trustmesh/api";
import { AccountKind } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import { createWallet } from "./support/fixtures.ts";
import { assertGrpcError, type LedgerPlatform, startLedgerPlatform } from "./support/ledger-platform.ts";

const methods = LedgerService.method;

describe("ledger accounts over gRPC", function () {
  this.timeout(120_000);
  let platform: LedgerPlatform;
  let payments: string;
  let admin: string;

  before(async () => {
    platform = await startLedgerPlatform();
    payments = await platform.serviceToken("payments");
    admin = await platform.userToken(randomUUID(), ["admin"]);
  });

  after(async () => {
    await platform?.stop();
  });

  it("creates the system accounts at start, one of each kind per currency, findable by address", async () => {
    const fees = await platform.call(methods.listAccounts, { kind: AccountKind.FEE_REVENUE, pageSize: 100 }, payments);
    assert.deepEqual(fees.accounts.map((account) => account.currency).sort(), ["BTC", "ETH", "EUR", "EURC", "USD", "USDC"]);
    for (const account of fees.accounts) {
      assert.equal(account.address, `system:fee_revenue:${account.currency}`);
      assert.equal(account.flags?.debitsMustNotExceedCredits, true);
      assert.equal(account.ownerId, "");
    }
    const world = await platform.call(
      methods.getAccount,
      { selector: { case: "address", value: "system:external:sandbox:ETH" } },
      payments,
    );
    assert.equal(world.account?.kind, AccountKind.EXTERNAL_RAIL);
    assert.equal(world.account?.currency, "ETH");
    assert.equal(world.account?.balance?.postedMinor, "0");
  });

  it("creates a wallet once per key: a replay returns it, another body under the key is ALREADY_EXISTS", async () => {
    const owner = randomUUID();
    const request = {
      idempotencyKey: `wallet:${owner}:EUR`,
      ownerId: owner,
      currency: "EUR",
      kind: AccountKind.USER_WALLET,
      flags: { debitsMustNotExceedCredits: true },
      metadata: { label: "main" },
    };
    const first = await platform.call(methods.createAccount, request, payments);
    assert.equal(first.replayed, false);
    assert.equal(first.account?.ownerId, owner);
    assert.deepEqual(first.account?.metadata, { label: "main" });
    assert.equal(first.account?.balance?.availableMinor, "0");
    const again = await platform.call(methods.createAccount, request, payments);
    assert.equal(again.replayed, true);
    assert.equal(again.account?.id, first.account?.id);
    const conflict = await assertGrpcError(
      platform.call(methods.createAccount, { ...request, metadata: { label: "other" } }, payments),
      status.ALREADY_EXISTS,
      /idempotency_key/,
    );
    assert.match(conflict.details, /different request/);
    await assertGrpcError(
      platform.call(methods.createAccount, { ...request, idempotencyKey: `second:${owner}` }, payments),
      status.ALREADY_EXISTS,
      /owner_id: .* already has a EUR wallet/,
    );
    const wallets = await platform.call(methods.listAccounts, { ownerId: owner }, payments);
    assert.equal(wallets.accounts.length, 1, "nothing else was created");
  });

  it("lets an admin create a system account with a unique address", async () => {
    const request = {
      idempotencyKey: "settlement-rail-two-usd",
      currency: "USD",
      kind: AccountKind.SETTLEMENT,
      address: "system:settlement:rail_two:USD",
    };
    const created = await platform.call(methods.createAccount, request, admin);
    assert.equal(created.account?.address, "system:settlement:rail_two:USD");
    await assertGrpcError(
      platform.call(methods.createAccount, { ...request, idempotencyKey: "another-key" }, admin),
      status.ALREADY_EXISTS,
      /address/,
    );
  });

  it("refuses malformed accounts with INVALID_ARGUMENT naming the field, and creates nothing", async () => {
    const owner = randomUUID();
    const wallet = {
      idempotencyKey: "k",
      ownerId: owner,
      currency: "USD",
      kind: AccountKind.USER_WALLET,
      flags: { debitsMustNotExceedCredits: true },
    };
    const cases: [object, RegExp][] = [
      [{ ...wallet, flags: {} }, /debits_must_not_exceed_credits/],
      [{ ...wallet, currency: "DOGE" }, /currency/],
      [{ ...wallet, ownerId: "" }, /owner/],
      [{ ...wallet, ownerId: "not-a-uuid" }, /owner_id/],
      [{ ...wallet, kind: AccountKind.UNSPECIFIED }, /kind/],
      [{ ...wallet, idempotencyKey: "" }, /idempotency_key/],
      [{ ...wallet, idempotencyKey: "has space" }, /idempotency_key/],
      [{ ...wallet, flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: true } }, /mutually exclusive/],
      [{ ...wallet, kind: AccountKind.FEE_REVENUE }, /owner/],
      [{ ...wallet, address: "Not Valid" }, /address/],
      [{ ...wallet, metadata: { "Bad Key": "x" } }, /metadata/],
    ];
    for (const [request, field] of cases) {
      await assertGrpcError(platform.call(methods.createAccount, request, payments), status.INVALID_ARGUMENT, field);
    }
    const listed = await platform.call(methods.listAccounts, { ownerId: owner }, payments);
    assert.equal(listed.accounts.length, 0);
  });

  it("gets an account by id or address; unknown is NOT_FOUND, malformed is INVALID_ARGUMENT", async () => {
    const owner = randomUUID();
    const id = await createWallet(platform, payments, owner, "BTC");
    const byId = await platform.call(methods.getAccount, { selector: { case: "accountId", value: id } }, payments);
    assert.equal(byId.account?.currency, "BTC");
    assert.equal(byId.account?.balance?.accountId, id);
    await assertGrpcError(
      platform.call(methods.getAccount, { selector: { case: "accountId", value: randomUUID() } }, payments),
      status.NOT_FOUND,
    );
    await assertGrpcError(
      platform.call(methods.getAccount, { selector: { case: "address", value: "system:nothing:here" } }, payments),
      status.NOT_FOUND,
    );
    await assertGrpcError(
      platform.call(methods.getAccount, { selector: { case: "accountId", value: "nope" } }, payments),
      status.INVALID_ARGUMENT,
      /account_id/,
    );
    await assertGrpcError(platform.call(methods.getAccount, {}, payments), status.INVALID_ARGUMENT, /selector/);
  });

  it("lists accounts in creation order page by page with no repeats; filters hold across pages", async () => {
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await platform.call(methods.listAccounts, { pageSize: 2, pageToken, currency: "USD" }, payments);
      for (const account of page.accounts) assert.equal(account.currency, "USD");
      seen.push(...page.accounts.map((account) => account.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "" && pages < 20);
    const all = await platform.call(methods.listAccounts, { pageSize: 100, currency: "USD" }, payments);
    assert.deepEqual(
      seen,
      all.accounts.map((account) => account.id),
    );
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(pages >= 2, "more than one page");
  });

  it("refuses bad list input: page size out of bounds, a foreign or changed page token, unknown filters", async () => {
    await assertGrpcError(platform.call(methods.listAccounts, { pageSize: 101 }, payments), status.INVALID_ARGUMENT, /page_size/);
    await assertGrpcError(platform.call(methods.listAccounts, { pageToken: "garbage" }, payments), status.INVALID_ARGUMENT, /page_token/);
    const first = await platform.call(methods.listAccounts, { pageSize: 1, currency: "USD" }, payments);
    assert.notEqual(first.nextPageToken, "");
    await assertGrpcError(
      platform.call(methods.listAccounts, { pageSize: 1, currency: "EUR", pageToken: first.nextPageToken }, payments),
      status.INVALID_ARGUMENT,
      /page_token: was issued for other filters/,
    );
    await assertGrpcError(platform.call(methods.listAccounts, { currency: "XRP" }, payments), status.INVALID_ARGUMENT, /currency/);
    await assertGrpcError(platform.call(methods.listAccounts, { ownerId: "x" }, payments), status.INVALID_ARGUMENT, /owner_id/);
  });
});
