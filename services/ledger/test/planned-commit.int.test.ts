// Goal: a batch of transfers planned on the balances the writer's own batches
// left is committed in one statement, reading nothing; and that shortcut never
// commits on a stale state — when another writer moved the chain, or a key the
// writer no longer remembers was taken long ago, the plan is refused and the
// batch is planned again on a read, with the right outcome.
//
// Two writers here share one real PostgreSQL, as two ledger replicas would;
// each has its own pipelined pool, tip and account cache, as in routes.ts.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type PostgresServer, startPostgres } from "@trustmesh/testkit";
import pg from "pg";
import { createAccountCache } from "../src/account-cache.ts";
import type { Job } from "../src/domain/engine.ts";
import { timeOrderedUuid } from "../src/domain/time-ordered-id.ts";
import { createAccount } from "../src/store/accounts.ts";
import { type CommittedBatch, commitBatch } from "../src/store/batch-commit.ts";
import { createChainTip } from "../src/store/chain-tip.ts";
import type { PlanningState } from "../src/store/planned-commit.ts";
import { ensureSystemAccounts } from "../src/system-accounts.ts";

const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../prisma/migrations");

interface WriterSide {
  commit(job: Job): Promise<CommittedBatch>;
  /** The named statements this side sent, in order. */
  statements: string[];
  /** The names of the statements that failed, in order. */
  failures: string[];
  /** The states of refused plans, in order. */
  replanned: PlanningState[];
  /** How many batches were sent again once the batch they were planned on had committed. */
  resent: number;
  /**
   * Holds the next ledger_commit_planned_batch statement back until `release`;
   * `reached` resolves once that statement is waiting.
   */
  holdNextCommit(): { reached: Promise<void>; release(): void };
  end(): Promise<void>;
}

function writerSide(databaseUrl: string, committedMax?: number): WriterSide {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, pipeline: true });
  const statements: string[] = [];
  const failures: string[] = [];
  const replanned: PlanningState[] = [];
  let held: { reached: () => void; released: Promise<void> } | undefined;
  // Every statement a batch sends is named; record the names on their way out.
  pool.on("connect", (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (config: unknown, ...rest: unknown[]) => {
      const name = typeof config === "string" ? config : ((config as { name?: string }).name ?? "unnamed");
      if (held && name === "ledger_commit_planned_batch") {
        const hold = held;
        held = undefined;
        hold.reached();
        return hold.released.then(() => {
          statements.push(name);
          return query(config, ...rest);
        });
      }
      statements.push(name);
      const sent = query(config, ...rest);
      if (sent instanceof Promise) {
        sent.catch(() => failures.push(name));
      }
      return sent;
    };
  });
  const accounts = createAccountCache({ entriesMax: 1000 });
  const tip = createChainTip({ balancesMax: 1000, committedMax });
  const dependencies = {
    pool,
    knownAccounts: (ids: readonly string[]) => accounts.known(ids),
    rememberAccounts: accounts.remember,
    now: () => new Date(),
    newId: timeOrderedUuid,
    tip,
    replanned: (from: PlanningState) => replanned.push(from),
    resent: () => side.resent++,
  };
  const side: WriterSide = {
    commit: (job) => commitBatch([job], dependencies, () => {}),
    statements,
    failures,
    replanned,
    resent: 0,
    holdNextCommit() {
      let reached = () => {};
      let release = () => {};
      const reachedPromise = new Promise<void>((resolve) => {
        reached = resolve;
      });
      held = { reached, released: new Promise<void>((resolve) => (release = resolve)) };
      return { reached: reachedPromise, release };
    },
    end: () => pool.end(),
  };
  return side;
}

function transfer(key: string, debitAccountId: string, creditAccountId: string, amount: bigint): Job {
  return {
    atomic: false,
    operations: [
      {
        type: "transfer",
        scope: "test",
        createdBy: "test",
        idempotencyKey: key,
        requestHash: createHash("sha256").update(`${debitAccountId}>${creditAccountId}:${amount}`).digest(),
        metadata: {},
        postings: [{ debitAccountId, creditAccountId, currency: "USD", amount }],
        pending: false,
        pendingTimeoutMs: undefined,
        reference: "",
      },
    ],
  };
}

async function waitFor(condition: () => boolean): Promise<void> {
  const giveUpAt = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error("condition not met within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("batches planned on the writer's own state", function () {
  this.timeout(120_000);
  let postgres: PostgresServer;
  let databaseUrl: string;
  let pool: pg.Pool;
  let world: string;

  /** Two new wallets, funded with 100 and 1 through `side`'s writer (each first seen by it then). */
  async function fundedPair(side: WriterSide): Promise<[string, string]> {
    const [alice, bob] = [await createWallet(), await createWallet()];
    await side.commit(transfer(`fund:${alice}`, world, alice, 100n));
    await side.commit(transfer(`fund:${bob}`, world, bob, 1n));
    return [alice, bob];
  }

  async function createWallet(): Promise<string> {
    const ownerId = randomUUID();
    const outcome = await createAccount(pool, {
      id: randomUUID(),
      ownerId,
      currency: "USD",
      kind: "USER_WALLET",
      debitsMustNotExceedCredits: true,
      creditsMustNotExceedDebits: false,
      address: null,
      metadata: {},
      idempotencyScope: "test",
      idempotencyKey: `wallet:${ownerId}`,
      requestHash: Buffer.alloc(32, 7),
      createdAt: new Date(),
    });
    assert.equal(outcome.status, "created");
    return outcome.status === "created" ? outcome.account.id : "";
  }

  async function postedBalance(accountId: string): Promise<bigint> {
    const { rows } = await pool.query<{ balance: string }>(
      "SELECT (credits_posted - debits_posted)::text AS balance FROM account_balance WHERE account_id = $1",
      [accountId],
    );
    return BigInt(rows[0]?.balance ?? "NaN");
  }

  before(async () => {
    postgres = await startPostgres();
    databaseUrl = await postgres.createDatabase("planned_commit", { migrationsDir });
    pool = new pg.Pool({ connectionString: databaseUrl });
    // pg's end() resolves before the last client's socket has closed; PostgreSQL stopping then
    // tells that client it is terminated, which is no failure of this test.
    pool.on("error", () => {});
    await ensureSystemAccounts(pool, () => new Date());
    const { rows } = await pool.query<{ id: string }>("SELECT id FROM account WHERE address = 'system:external:sandbox:USD'");
    world = rows[0]?.id ?? "";
  });

  after(async () => {
    await pool?.end();
    await postgres?.stop();
  });

  it("commits a batch whose balances the writer knows in one statement, reading nothing", async () => {
    const side = writerSide(databaseUrl);
    try {
      const [alice, bob] = await fundedPair(side);
      assert.deepEqual(
        side.statements,
        ["ledger_read_batch", "ledger_commit_planned_batch", "ledger_read_batch", "ledger_commit_planned_batch"],
        "accounts the writer does not know are read first",
      );
      side.statements.length = 0;
      const committed = await side.commit(transfer(randomUUID(), alice, bob, 10n));
      assert.equal(committed.plan.outcomes[0]?.[0]?.status, "committed");
      assert.deepEqual(side.statements, ["ledger_commit_planned_batch"], "known balances: one statement, no read, no BEGIN or COMMIT");
      const overdraft = await side.commit(transfer(randomUUID(), alice, bob, 1000n));
      assert.equal(overdraft.plan.outcomes[0]?.[0]?.status, "rejected", "a rejection on known balances is checked like a commit");
      assert.deepEqual(side.replanned, []);
      assert.equal(await postedBalance(alice), 90n);
      assert.equal(await postedBalance(bob), 11n);
    } finally {
      await side.end();
    }
  });

  it("sends a batch again, unchanged, when it reached the head's lock before the batch it was planned on", async () => {
    // Two batches in flight leave on two connections; the second, planned on the first, can take
    // the chain head's lock first. Its plan is not wrong, only early: it must neither be planned
    // again nor make the writer forget the balances it knows.
    const side = writerSide(databaseUrl);
    try {
      const [alice, bob] = await fundedPair(side);
      side.statements.length = 0;
      const hold = side.holdNextCommit();
      const first = side.commit(transfer(randomUUID(), alice, bob, 10n));
      await hold.reached;
      const second = side.commit(transfer(randomUUID(), alice, bob, 20n));
      // The second batch is refused (the chain is behind its plan) and waits for the first.
      await waitFor(() => side.failures.length === 1);
      hold.release();
      const [firstBatch, secondBatch] = await Promise.all([first, second]);
      assert.equal(firstBatch.plan.outcomes[0]?.[0]?.status, "committed");
      assert.equal(secondBatch.plan.outcomes[0]?.[0]?.status, "committed");
      assert.equal(side.resent, 1);
      assert.deepEqual(side.replanned, []);
      assert.deepEqual(
        side.statements,
        ["ledger_commit_planned_batch", "ledger_commit_planned_batch", "ledger_commit_planned_batch"],
        "the second batch's statement, the first's, then the second's again: no read, no plan on a read",
      );
      assert.equal(await postedBalance(alice), 70n);
      assert.equal(await postedBalance(bob), 31n);
      side.statements.length = 0;
      await side.commit(transfer(randomUUID(), bob, alice, 1n));
      assert.deepEqual(side.statements, ["ledger_commit_planned_batch"], "the writer still knows every balance");
    } finally {
      await side.end();
    }
  });

  it("refuses a plan on known balances once another writer moved the chain, and commits the batch on a read", async () => {
    const [alice, bob] = [await createWallet(), await createWallet()];
    const first = writerSide(databaseUrl);
    const second = writerSide(databaseUrl);
    try {
      await first.commit(transfer(`fund:${alice}`, world, alice, 100n));
      await first.commit(transfer(randomUUID(), alice, bob, 10n));
      await second.commit(transfer(randomUUID(), alice, bob, 5n));
      first.statements.length = 0;
      // The first writer still believes alice holds 90; she holds 85, and this must leave her 5, not 10.
      const committed = await first.commit(transfer(randomUUID(), alice, bob, 80n));
      assert.equal(committed.plan.outcomes[0]?.[0]?.status, "committed");
      assert.deepEqual(first.replanned, ["known"]);
      assert.deepEqual(first.statements, ["ledger_commit_planned_batch", "ROLLBACK", "ledger_read_batch", "ledger_commit_planned_batch"]);
      assert.equal(await postedBalance(alice), 5n);
      assert.equal(await postedBalance(bob), 95n);
      const overdraft = await first.commit(transfer(randomUUID(), alice, bob, 6n));
      assert.equal(overdraft.plan.outcomes[0]?.[0]?.status, "rejected", "after the read the writer knows the true balance");
    } finally {
      await first.end();
      await second.end();
    }
  });

  it("refuses a key it took for new when a transaction holds it, and answers the batch as a replay", async () => {
    // Both ways a plan on known state can meet a taken key: it writes a transaction under it (the
    // key's unique index refuses), or it rejects the operation (a lookup under the head refuses).
    const [alice, bob] = [await createWallet(), await createWallet()];
    // The tip keeps no committed batch, so it forgets every key as soon as its batch commits.
    const side = writerSide(databaseUrl, 0);
    try {
      await side.commit(transfer(`fund:${alice}`, world, alice, 100n));
      const original = await side.commit(transfer("pay-once", alice, bob, 30n));
      const originalOutcome = original.plan.outcomes[0]?.[0];
      assert.equal(originalOutcome?.status, "committed");
      await side.commit(transfer(randomUUID(), alice, bob, 1n));
      const replay = await side.commit(transfer("pay-once", alice, bob, 30n));
      const outcome = replay.plan.outcomes[0]?.[0];
      assert.deepEqual(side.replanned, ["known"], "the key was planned as new on known balances and refused");
      assert.equal(outcome?.status, "replayed");
      assert.equal(
        outcome?.status === "replayed" && originalOutcome?.status === "committed" && outcome.transactionId,
        originalOutcome?.status === "committed" && originalOutcome.transaction.id,
      );
      assert.equal(await postedBalance(alice), 69n, "the key took effect once");
      // Now that alice could not pay 30 again, the plan rejects the replay rather than writing it:
      // the taken key must still be found, by the lookup of rejected operations' keys.
      await side.commit(transfer(randomUUID(), alice, bob, 60n));
      await side.commit(transfer(randomUUID(), alice, bob, 1n));
      const rejectedReplay = await side.commit(transfer("pay-once", alice, bob, 30n));
      assert.deepEqual(side.replanned, ["known", "known"]);
      assert.equal(rejectedReplay.plan.outcomes[0]?.[0]?.status, "replayed");
      assert.equal(await postedBalance(alice), 8n);
    } finally {
      await side.end();
    }
  });
});
