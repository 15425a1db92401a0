// Goal: the database itself holds the ledger's invariants — even a superuser
// cannot UPDATE, DELETE or TRUNCATE committed records, overdraw a wallet,
// insert an unbalanced posting or one naming an unknown account, hand a
// balance to another account, move a balance or the chain head backwards or
// the head onto an unknown hash —
// and when a superuser edits an entry anyway (triggers switched off with
// session_replication_role = replica), VerifyChain and Reconcile name exactly
// the altered transaction, and scheduled reconciliation drops the
// ledger_reconciliation_ok gauge to 0 without anyone asking.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { LedgerService } from "@trustmesh/api";
import { ChainBreakReason, DiscrepancyKind } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import pg from "pg";
import { createWallet, posting, systemAccount, transfer } from "./support/fixtures.ts";
import { type LedgerPlatform, startLedgerPlatform } from "./support/ledger-platform.ts";

const methods = LedgerService.method;

describe("ledger tamper evidence", function () {
  this.timeout(120_000);
  let platform: LedgerPlatform;
  let admin: string;
  let alice: string;
  let bob: string;
  const transactions: { id: string; sequence: bigint }[] = [];

  /** Runs statements on one superuser connection, optionally with triggers switched off. */
  async function asSuperuser(statements: [string, unknown[]?][], bypassTriggers = false): Promise<void> {
    const client = new pg.Client({ connectionString: platform.ledgerDatabaseUrl });
    await client.connect();
    try {
      if (bypassTriggers) await client.query("SET session_replication_role = replica");
      for (const [text, values] of statements) await client.query(text, values);
    } finally {
      await client.end();
    }
  }

  async function gauge(): Promise<string | undefined> {
    const metrics = await (await fetch(platform.metricsUrl)).text();
    return /ledger_reconciliation_ok\{[^}]*\} (\d)/.exec(metrics)?.[1];
  }

  before(async () => {
    platform = await startLedgerPlatform({ env: { LEDGER_RECONCILE_INTERVAL_MS: "1000", LEDGER_RECONCILE_INITIAL_DELAY_MS: "0" } });
    const payments = await platform.serviceToken("payments");
    admin = await platform.userToken(randomUUID(), ["admin"]);
    const world = await systemAccount(platform, payments, "system:external:sandbox", "USD");
    alice = await createWallet(platform, payments, randomUUID(), "USD");
    bob = await createWallet(platform, payments, randomUUID(), "USD");
    transactions.push(await transfer(platform, payments, [posting(world, alice, "USD", 1_000n)]));
    for (let index = 0; index < 8; index++) transactions.push(await transfer(platform, payments, [posting(alice, bob, "USD", 10n)]));
  });

  after(async () => {
    await platform?.stop();
  });

  it("refuses UPDATE, DELETE and TRUNCATE of committed records, even from a superuser", async () => {
    const refused = [
      "UPDATE ledger_entry SET amount = amount + 1",
      "DELETE FROM ledger_entry",
      "TRUNCATE ledger_entry CASCADE",
      "UPDATE ledger_transaction SET reference = 'x'",
      "DELETE FROM ledger_transaction",
      "UPDATE account SET currency = 'EUR'",
      "DELETE FROM account_balance",
      "DELETE FROM chain_head",
    ];
    for (const statement of refused) {
      await assert.rejects(asSuperuser([[statement]]), /immutable|not allowed/, statement);
    }
  });

  it("refuses balances that break their flags, unbalanced entries and a chain head on an unknown hash", async () => {
    await assert.rejects(
      asSuperuser([["UPDATE account_balance SET debits_posted = credits_posted + 1 WHERE account_id = $1", [alice]]]),
      /account_balance_debits_must_not_exceed_credits/,
    );
    const [first] = transactions;
    await assert.rejects(
      asSuperuser([
        [
          `INSERT INTO ledger_entry (id, transaction_id, sequence, transaction_kind, posting_index, account_id, counterparty_account_id,
             direction, currency, amount, posted_balance_after, available_balance_after, reference, created_at)
           VALUES ($1, $2, 1, 'POSTED', 5, $3, $4, 'DEBIT', 'USD', 1, 0, 0, '', now())`,
          [randomUUID(), first?.id, alice, bob],
        ],
      ]),
      /not one balanced debit and credit/,
    );
    // Two rows in one statement (the check is per statement) that are still not one posting: each pair is refused whole.
    const pair = (debit: readonly [string | undefined, string, number], credit: readonly [string | undefined, string, number]) =>
      asSuperuser([
        [
          `INSERT INTO ledger_entry (id, transaction_id, sequence, transaction_kind, posting_index, account_id, counterparty_account_id,
             direction, currency, amount, posted_balance_after, available_balance_after, reference, created_at)
           VALUES ($1, $2, 1, 'POSTED', 6, $3, $4, 'DEBIT', $5, $6, 0, 0, '', now()),
                  ($7, $2, $12, 'POSTED', 6, $8, $9, 'CREDIT', $10, $11, 0, 0, '', now())`,
          [
            randomUUID(),
            first?.id,
            debit[0],
            randomUUID(),
            debit[1],
            debit[2],
            randomUUID(),
            credit[0],
            randomUUID(),
            credit[1],
            credit[2],
            credit[0] === debit[0] ? 2 : 1,
          ],
        ],
      ]);
    for (const [debit, credit] of [
      [
        [alice, "USD", 1],
        [alice, "USD", 1],
      ], // one account on both sides (at another sequence, past the account index)
      [
        [alice, "USD", 1],
        [bob, "EUR", 1],
      ], // two currencies
      [
        [alice, "USD", 2],
        [bob, "USD", 1],
      ], // unequal amounts
    ] as const) {
      await assert.rejects(pair(debit, credit), /not one balanced debit and credit/, JSON.stringify([debit, credit]));
    }
    // A posting copied from a committed transaction passes (rolled back); its credit at another sequence does not,
    // though the debit matches the transaction exactly.
    const copiedPosting = (creditSequenceOffset: number) =>
      `INSERT INTO ledger_entry (id, transaction_id, sequence, transaction_kind, posting_index, account_id, counterparty_account_id,
         direction, currency, amount, posted_balance_after, available_balance_after, reference, created_at)
       SELECT $1::uuid, t.id, t.sequence, t.kind, 7, $3::uuid, $4::uuid, 'DEBIT'::entry_direction, 'USD', 1, 0, 0, t.reference, t.created_at
       FROM ledger_transaction t WHERE t.id = $2
       UNION ALL
       SELECT $5::uuid, t.id, t.sequence + ${creditSequenceOffset}, t.kind, 7, $4::uuid, $3::uuid, 'CREDIT'::entry_direction, 'USD', 1, 0, 0,
         t.reference, t.created_at
       FROM ledger_transaction t WHERE t.id = $2`;
    const copiedValues = () => [randomUUID(), first?.id, alice, bob, randomUUID()];
    await asSuperuser([["BEGIN"], [copiedPosting(0), copiedValues()], ["ROLLBACK"]]);
    await assert.rejects(asSuperuser([[copiedPosting(1), copiedValues()]]), /does not match a committed transaction/);
    // The same posting naming an account that does not exist, or one that holds another currency.
    const euros = await createWallet(platform, await platform.serviceToken("payments"), randomUUID(), "EUR");
    for (const stranger of [randomUUID(), euros]) {
      await assert.rejects(
        asSuperuser([[copiedPosting(0), [randomUUID(), first?.id, alice, stranger, randomUUID()]]]),
        new RegExp(`names account ${stranger}, which does not exist or holds another currency than USD`),
      );
    }
    await assert.rejects(
      asSuperuser([["UPDATE chain_head SET hash = decode(repeat('ab', 32), 'hex')"]]),
      /must name a committed transaction/,
    );
    await assert.rejects(asSuperuser([["UPDATE chain_head SET sequence = sequence - 1"]]), /cannot go back/);
    await assert.rejects(asSuperuser([["UPDATE account_balance SET last_sequence = 0 WHERE account_id = $1", [alice]]]), /cannot go back/);
    // A balance handed to another account, one made beside alice's (same currency and flags) in the same transaction.
    const twin = randomUUID();
    await assert.rejects(
      asSuperuser([
        ["BEGIN"],
        [
          `INSERT INTO account (id, owner_id, currency, kind, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
             address, metadata, idempotency_scope, idempotency_key, request_hash, created_at)
           SELECT $1, $2, currency, kind, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
             address || ':twin', metadata, idempotency_scope, idempotency_key || ':twin', request_hash, created_at
           FROM account WHERE id = $3`,
          [twin, randomUUID(), alice],
        ],
        ["UPDATE account_balance SET account_id = $1 WHERE account_id = $2", [twin, alice]],
      ]),
      /a balance cannot move to another account/,
    );
  });

  it("names exactly the transaction whose entry a superuser edited, in VerifyChain and in Reconcile", async () => {
    assert.equal((await platform.call(methods.reconcile, {}, admin)).report?.clean, true);
    const target = transactions[4];
    assert.ok(target);
    await asSuperuser(
      [["UPDATE ledger_entry SET amount = amount + 1 WHERE transaction_id = $1 AND direction = 'CREDIT'", [target.id]]],
      true,
    );

    const verification = (await platform.call(methods.verifyChain, {}, admin)).verification;
    assert.equal(verification?.intact, false);
    assert.deepEqual(
      verification?.breaks.map((found) => [ChainBreakReason[found.reason], found.sequence, found.transactionId]),
      [["HASH_MISMATCH", target.sequence, target.id]],
    );

    const report = (await platform.call(methods.reconcile, {}, admin)).report;
    assert.ok(report);
    assert.equal(report.clean, false);
    assert.deepEqual(
      report.chain?.breaks.map((found) => found.transactionId),
      [target.id],
    );
    const kinds = report.discrepancies.map((discrepancy) => DiscrepancyKind[discrepancy.kind]).sort();
    assert.deepEqual(kinds, ["BALANCE_MISMATCH", "TRANSACTION_UNBALANCED"]);
    for (const discrepancy of report.discrepancies) assert.equal(discrepancy.transactionId, target.id, discrepancy.detail);
    const mismatch = report.discrepancies.find((discrepancy) => discrepancy.kind === DiscrepancyKind.BALANCE_MISMATCH);
    assert.deepEqual(
      [mismatch?.accountId, mismatch?.figure, mismatch?.expectedMinor, mismatch?.actualMinor],
      [bob, "credits_posted", "81", "80"],
    );
    assert.equal(await gauge(), "0");
    assert.match(await (await fetch(platform.metricsUrl)).text(), /ledger_chain_ok\{[^}]*\} 0/);
  });

  it("finds an edited running balance, and moves the gauge on its own schedule", async () => {
    const edited = transactions[4];
    const target = transactions[7];
    assert.ok(edited && target);
    const waitForScheduledRun = () => new Promise((resolve) => setTimeout(resolve, 2500));
    // Undo the first edit: the chain verifies again, and the schedule (every second) says so.
    await asSuperuser(
      [["UPDATE ledger_entry SET amount = amount - 1 WHERE transaction_id = $1 AND direction = 'CREDIT'", [edited.id]]],
      true,
    );
    await waitForScheduledRun();
    assert.equal(await gauge(), "1");
    // Alter only a running balance of another transaction: no RPC is called, the schedule notices.
    const editBalance = `UPDATE ledger_entry SET posted_balance_after = posted_balance_after + $3 WHERE transaction_id = $1 AND account_id = $2`;
    await asSuperuser([[editBalance, [target.id, alice, 5]]], true);
    await waitForScheduledRun();
    assert.equal(await gauge(), "0");
    const verification = (await platform.call(methods.verifyChain, {}, admin)).verification;
    assert.deepEqual(
      verification?.breaks.map((found) => found.transactionId),
      [target.id],
    );
    const report = (await platform.call(methods.reconcile, {}, admin)).report;
    assert.deepEqual(
      report?.discrepancies.map((discrepancy) => [
        DiscrepancyKind[discrepancy.kind],
        discrepancy.figure,
        discrepancy.accountId,
        discrepancy.transactionId,
      ]),
      [["BALANCE_MISMATCH", "posted_balance_after", alice, target.id]],
    );
    await asSuperuser([[editBalance, [target.id, alice, -5]]], true);
    assert.equal((await platform.call(methods.reconcile, {}, admin)).report?.clean, true);
  });
});
