// Goal: under thousands of random operations from many concurrent clients —
// transfers with fees, deposits, withdrawals, batches (atomic or not),
// pending transfers posted in full or in part, voided or left to expire,
// exact duplicates, reused keys with other bodies, and overdrafts — the
// ledger keeps every promise at once: each balance equals the sum of its
// entries, each currency sums to zero, no wallet is negative, every
// idempotency key took effect at most once (exactly once when any call under
// it succeeded, and only with the body that succeeded), posted balances equal
// what the clients were told was committed, Reconcile is clean and the chain
// verifies. The PRNG is seeded (LEDGER_PROPERTY_SEED to repeat a run; the seed
// is printed); the interleaving of the clients is not reproducible.
import assert from "node:assert/strict";
import { randomInt, randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { LedgerService } from "@trustmesh/api";
import { TransactionKind } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import type { GrpcJsError } from "@trustmesh/testkit/grpc-js";
import { createWallet, posting, systemAccount } from "./support/fixtures.ts";
import { type LedgerPlatform, startLedgerPlatform } from "./support/ledger-platform.ts";

const methods = LedgerService.method;

/** mulberry32: a tiny, well-known 32-bit PRNG, so a seed replays each client's choices. */
function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    below: (count: number) => Math.floor(next() * count),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    /** A uniform bigint in [1, max]. */
    amount: (max: bigint) => {
      let value = 0n;
      for (let bits = 0n; bits < BigInt(max.toString(2).length) + 16n; bits += 30n)
        value = (value << 30n) | BigInt(Math.floor(next() * 2 ** 30));
      return (value % max) + 1n;
    },
  };
}

const currencies = ["USD", "BTC", "ETH"] as const;
type Currency = (typeof currencies)[number];
/** Per currency: a wallet's starting funds, and the largest amount a client tries to move. */
const scales: Record<Currency, { funding: bigint; transferMax: bigint }> = {
  USD: { funding: 100_000n, transferMax: 60_000n },
  BTC: { funding: 10n ** 9n, transferMax: 6n * 10n ** 8n },
  // ETH amounts well beyond 2^64 minor units.
  ETH: { funding: 10n ** 24n, transferMax: 6n * 10n ** 23n },
};

type PostingShape = ReturnType<typeof posting>;
interface SentRequest {
  key: string;
  /** Canonical text of the body: the same key with another body must never succeed. */
  body: string;
  transaction: {
    idempotencyKey: string;
    postings: PostingShape[];
    pending?: boolean;
    pendingTimeout?: { seconds: bigint };
    reference?: string;
  };
}
interface KeyRecord {
  successes: { transactionId: string; body: string }[];
  failures: string[];
}

describe("ledger under concurrent random load (property test)", function () {
  this.timeout(600_000);
  const seed = Number(process.env.LEDGER_PROPERTY_SEED ?? randomInt(2 ** 31));
  const operationsTotal = Number(process.env.LEDGER_PROPERTY_OPERATIONS ?? 2500);
  const clients = 16;
  let platform: LedgerPlatform;
  let payments: string;
  let admin: string;
  const wallets: Record<Currency, string[]> = { USD: [], BTC: [], ETH: [] };
  const worlds = {} as Record<Currency, string>;
  const feeAccounts = {} as Record<Currency, string>;

  before(async () => {
    console.log(
      `      property test seed: ${seed} (LEDGER_PROPERTY_SEED=${seed} repeats it), ${operationsTotal} operations, ${clients} clients`,
    );
    platform = await startLedgerPlatform({ env: { LEDGER_PENDING_SWEEP_INTERVAL_MS: "200" } });
    payments = await platform.serviceToken("payments");
    admin = await platform.userToken(randomUUID(), ["admin"]);
    for (const currency of currencies) {
      worlds[currency] = await systemAccount(platform, payments, "system:external:sandbox", currency);
      feeAccounts[currency] = await systemAccount(platform, payments, "system:fee_revenue", currency);
      for (let index = 0; index < 12; index++) wallets[currency].push(await createWallet(platform, payments, randomUUID(), currency));
    }
  });

  after(async () => {
    await platform?.stop();
  });

  it("keeps every invariant", async () => {
    const keys = new Map<string, KeyRecord>();
    const committed = new Map<string, { kind: TransactionKind; postings: { debit: string; credit: string; amount: bigint }[] }>();
    const history: SentRequest[] = [];
    const openPendings: { id: string; postings: PostingShape[] }[] = [];
    const unexpected: string[] = [];
    let rejectedCount = 0;

    const recordOf = (key: string) => {
      let record = keys.get(key);
      if (record === undefined) {
        record = { successes: [], failures: [] };
        keys.set(key, record);
      }
      return record;
    };
    const remember = (transaction: {
      id: string;
      kind: TransactionKind;
      postings: { debitAccountId: string; creditAccountId: string; amount?: { amountMinor: string } }[];
    }) => {
      committed.set(transaction.id, {
        kind: transaction.kind,
        postings: transaction.postings.map((item) => ({
          debit: item.debitAccountId,
          credit: item.creditAccountId,
          amount: BigInt(item.amount?.amountMinor ?? "0"),
        })),
      });
    };
    /** Refusals the ledger may legitimately give under this load; anything else fails the test. */
    const expectRefusal = (error: unknown, key: string, context: string) => {
      const { code, details } = error as GrpcJsError;
      if (code === status.FAILED_PRECONDITION || code === status.ALREADY_EXISTS) {
        rejectedCount++;
        recordOf(key).failures.push(details);
        return;
      }
      unexpected.push(`${context}: ${code} ${details}`);
    };

    const newTransaction = (random: ReturnType<typeof createRandom>, client: number, counter: number): SentRequest => {
      const currency = random.pick(currencies);
      const { funding, transferMax } = scales[currency];
      const from = random.pick(wallets[currency]);
      let to = random.pick(wallets[currency]);
      while (to === from) to = random.pick(wallets[currency]);
      const amount = random.amount(transferMax);
      const roll = random.next();
      let postings: PostingShape[];
      if (roll < 0.15) postings = [posting(worlds[currency], to, currency, random.amount(funding))];
      else if (roll < 0.25) postings = [posting(from, worlds[currency], currency, amount)];
      else postings = [posting(from, to, currency, amount), posting(from, feeAccounts[currency], currency, amount / 100n + 1n)];
      const pending = random.next() < 0.2;
      const transaction = {
        idempotencyKey: `c${client}-${counter}-${randomUUID()}`,
        postings,
        pending,
        // Most reservations are short so the sweeper expires some of them during the run.
        pendingTimeout: pending ? { seconds: BigInt(random.next() < 0.5 ? 1 : 600) } : undefined,
        reference: `ref-${client}-${counter}`,
      };
      return {
        key: transaction.idempotencyKey,
        body: JSON.stringify(transaction, (_, value) => (typeof value === "bigint" ? String(value) : value)),
        transaction,
      };
    };

    const submit = async (request: SentRequest) => {
      history.push(request);
      try {
        const response = await platform.call(methods.postTransaction, { transaction: request.transaction }, payments);
        const transaction = response.transaction;
        assert.ok(transaction);
        recordOf(request.key).successes.push({ transactionId: transaction.id, body: request.body });
        remember(transaction);
        if (transaction.kind === TransactionKind.PENDING && !response.replayed)
          openPendings.push({ id: transaction.id, postings: request.transaction.postings });
      } catch (error) {
        expectRefusal(error, request.key, "PostTransaction");
      }
    };

    const runClient = async (client: number, operations: number) => {
      const random = createRandom(seed + client * 7919);
      for (let counter = 0; counter < operations; counter++) {
        const roll = random.next();
        if (roll < 0.1 && history.length > 0) {
          // An exact duplicate of an earlier request: a retry.
          await submit(random.pick(history));
        } else if (roll < 0.16 && history.length > 0) {
          // An earlier key with another body: must never take effect.
          const original = random.pick(history);
          const [first, ...rest] = original.transaction.postings;
          assert.ok(first);
          const changed = {
            ...first,
            amount: { currency: first.amount.currency, amountMinor: (BigInt(first.amount.amountMinor) + 1n).toString() },
          };
          const transaction = { ...original.transaction, postings: [changed, ...rest] };
          await submit({ key: original.key, body: `${original.body}+changed`, transaction });
        } else if (roll < 0.3 && openPendings.length > 0) {
          const pending = openPendings.splice(random.below(openPendings.length), 1)[0];
          assert.ok(pending);
          const key = `resolve-${pending.id}-${client}-${counter}`;
          const action = random.next();
          try {
            if (action < 0.4) {
              const response = await platform.call(
                methods.voidPending,
                { pendingTransactionId: pending.id, idempotencyKey: key, reason: "test" },
                payments,
              );
              recordOf(key).successes.push({ transactionId: response.transaction?.id ?? "", body: "void" });
              if (response.transaction) remember(response.transaction);
            } else {
              const partial = action < 0.7;
              const amounts = partial
                ? pending.postings.map((item) => ({
                    currency: item.amount.currency,
                    amountMinor: (BigInt(item.amount.amountMinor) / 2n).toString(),
                  }))
                : [];
              if (amounts.every((amount) => amount.amountMinor === "0")) amounts.length = 0;
              const response = await platform.call(
                methods.postPending,
                { pendingTransactionId: pending.id, idempotencyKey: key, amounts },
                payments,
              );
              recordOf(key).successes.push({ transactionId: response.transaction?.id ?? "", body: "post" });
              if (response.transaction) remember(response.transaction);
            }
          } catch (error) {
            // Expired before it was resolved, most likely: a refusal, never a crash.
            expectRefusal(error, key, "resolve pending");
          }
        } else if (roll < 0.4) {
          const atomic = random.next() < 0.3;
          const items = Array.from({ length: 2 + random.below(7) }, (_, index) => newTransaction(random, client, counter * 100 + index));
          history.push(...items);
          try {
            const response = await platform.call(
              methods.postTransactions,
              { atomic, transactions: items.map((item) => item.transaction) },
              payments,
            );
            assert.equal(response.results.length, items.length);
            const outcomes = response.results.map((result) => result.outcome.case);
            if (atomic)
              assert.ok(
                outcomes.every((outcome) => outcome === outcomes[0]),
                "an atomic batch commits all or nothing",
              );
            response.results.forEach((result, index) => {
              const item = items[index] as SentRequest;
              assert.equal(result.index, index);
              if (result.outcome.case === "transaction") {
                const transaction = result.outcome.value;
                recordOf(item.key).successes.push({ transactionId: transaction.id, body: item.body });
                remember(transaction);
                if (transaction.kind === TransactionKind.PENDING)
                  openPendings.push({ id: transaction.id, postings: item.transaction.postings });
              } else {
                rejectedCount++;
                recordOf(item.key).failures.push(result.outcome.value?.detail ?? "");
              }
            });
          } catch (error) {
            unexpected.push(`PostTransactions: ${(error as GrpcJsError).code} ${(error as GrpcJsError).details}`);
          }
        } else {
          await submit(newTransaction(random, client, counter));
        }
      }
    };

    // Fund every wallet first, as one atomic batch per currency.
    for (const currency of currencies) {
      const response = await platform.call(
        methods.postTransactions,
        {
          atomic: true,
          transactions: wallets[currency].map((wallet) => ({
            idempotencyKey: `fund-${wallet}`,
            postings: [posting(worlds[currency], wallet, currency, scales[currency].funding)],
          })),
        },
        payments,
      );
      for (const result of response.results) {
        assert.equal(result.outcome.case, "transaction");
        if (result.outcome.case === "transaction") remember(result.outcome.value);
      }
    }

    const startedAt = performance.now();
    await Promise.all(Array.from({ length: clients }, (_, client) => runClient(client, Math.ceil(operationsTotal / clients))));
    const elapsedMs = performance.now() - startedAt;
    assert.deepEqual(unexpected, [], "only refusals the ledger is allowed to give");

    // Let the sweeper expire every short (1 s) reservation still open, including those not due
    // yet: a fast run ends before any is due, and waiting only for the due ones would wait for none.
    for (let attempt = 0; attempt < 100; attempt++) {
      const due = await platform.sql<{ count: string }>(
        "SELECT count(*) FROM open_pending WHERE timeout_at <= now() + interval '10 seconds'",
      );
      if (due[0]?.count === "0") break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    const summary = await platform.sql<{ kind: string; count: string }>(
      "SELECT kind, count(*) FROM ledger_transaction GROUP BY kind ORDER BY kind",
    );
    console.log(
      `      ${committed.size} transactions committed by clients in ${Math.round(elapsedMs)} ms, ${rejectedCount} refusals; by kind: ${summary.map((row) => `${row.kind} ${row.count}`).join(", ")}`,
    );
    assert.ok(committed.size >= 2000, "thousands of transactions were committed");
    assert.ok(rejectedCount > 50, "overdrafts, conflicts and late resolutions were exercised");
    assert.ok(
      summary.some((row) => row.kind === "EXPIRE_PENDING"),
      "some reservations expired",
    );
    assert.ok(
      summary.some((row) => row.kind === "POST_PENDING"),
      "some reservations were posted",
    );

    // Every balance equals the sum of its entries (computed here, independently of the service's own Reconcile).
    const balanceMismatches = await platform.sql(
      `WITH resolved AS (SELECT pending_transaction_id FROM ledger_transaction WHERE pending_transaction_id IS NOT NULL),
       sums AS (
         SELECT e.account_id,
           sum(e.amount) FILTER (WHERE e.direction = 'DEBIT' AND e.transaction_kind IN ('POSTED', 'POST_PENDING')) AS debits_posted,
           sum(e.amount) FILTER (WHERE e.direction = 'CREDIT' AND e.transaction_kind IN ('POSTED', 'POST_PENDING')) AS credits_posted,
           sum(e.amount) FILTER (WHERE e.direction = 'DEBIT' AND e.transaction_kind = 'PENDING' AND e.transaction_id NOT IN (SELECT * FROM resolved)) AS debits_pending,
           sum(e.amount) FILTER (WHERE e.direction = 'CREDIT' AND e.transaction_kind = 'PENDING' AND e.transaction_id NOT IN (SELECT * FROM resolved)) AS credits_pending
         FROM ledger_entry e GROUP BY e.account_id)
       SELECT b.account_id FROM account_balance b LEFT JOIN sums s ON s.account_id = b.account_id
       WHERE b.debits_posted <> COALESCE(s.debits_posted, 0) OR b.credits_posted <> COALESCE(s.credits_posted, 0)
          OR b.debits_pending <> COALESCE(s.debits_pending, 0) OR b.credits_pending <> COALESCE(s.credits_pending, 0)`,
    );
    assert.deepEqual(balanceMismatches, [], "every balance equals the sum of its entries");

    const currencySums = await platform.sql<{ currency: string; posted: string; pending: string }>(
      `SELECT a.currency, sum(b.credits_posted - b.debits_posted)::text AS posted, sum(b.credits_pending - b.debits_pending)::text AS pending
       FROM account a JOIN account_balance b ON b.account_id = a.id GROUP BY a.currency`,
    );
    for (const row of currencySums)
      assert.deepEqual([row.currency, row.posted, row.pending], [row.currency, "0", "0"], "each currency sums to zero");

    const negativeWallets = await platform.sql(
      `SELECT a.id FROM account a JOIN account_balance b ON b.account_id = a.id
       WHERE a.kind = 'USER_WALLET' AND (b.credits_posted - b.debits_posted < 0 OR b.credits_posted - b.debits_posted - b.debits_pending < 0)`,
    );
    assert.deepEqual(negativeWallets, [], "no wallet is negative, posted or available");

    // Every key took effect at most once, exactly once when any call under it succeeded, and only with the body that succeeded.
    const stored = await platform.sql<{ idempotency_key: string; id: string; count: string }>(
      `SELECT idempotency_key, min(id::text) AS id, count(*)::text AS count FROM ledger_transaction
       WHERE idempotency_scope = 'service:payments' GROUP BY idempotency_key`,
    );
    const storedByKey = new Map(stored.map((row) => [row.idempotency_key, row]));
    for (const row of stored) assert.equal(row.count, "1", `key ${row.idempotency_key} took effect once`);
    for (const [key, record] of keys) {
      const row = storedByKey.get(key);
      if (record.successes.length === 0) {
        assert.equal(row, undefined, `key ${key} only ever refused, so it took no effect`);
        continue;
      }
      assert.ok(row, `key ${key} succeeded, so it took effect`);
      assert.ok(
        record.successes.every((success) => success.transactionId === row.id),
        `every success under ${key} names the one transaction`,
      );
      assert.equal(new Set(record.successes.map((success) => success.body)).size, 1, `only one body ever succeeded under ${key}`);
    }

    // What clients were told was committed is exactly what the ledger holds, and adds up to the posted balances.
    const clientIds = new Set(committed.keys());
    const ledgerIds = await platform.sql<{ id: string }>("SELECT id FROM ledger_transaction WHERE created_by = 'payments'");
    assert.equal(ledgerIds.length, clientIds.size);
    for (const { id } of ledgerIds) assert.ok(clientIds.has(id), `transaction ${id} was reported to a client`);
    const expectedPosted = new Map<string, bigint>();
    for (const transaction of committed.values()) {
      if (transaction.kind !== TransactionKind.POSTED && transaction.kind !== TransactionKind.POST_PENDING) continue;
      for (const item of transaction.postings) {
        expectedPosted.set(item.debit, (expectedPosted.get(item.debit) ?? 0n) - item.amount);
        expectedPosted.set(item.credit, (expectedPosted.get(item.credit) ?? 0n) + item.amount);
      }
    }
    const postedRows = await platform.sql<{ account_id: string; posted: string }>(
      "SELECT account_id, (credits_posted - debits_posted)::text AS posted FROM account_balance",
    );
    for (const row of postedRows)
      assert.equal(BigInt(row.posted), expectedPosted.get(row.account_id) ?? 0n, `posted balance of ${row.account_id}`);

    // The sweeper may still be expiring reservations: verify up to the head as read now.
    const head = BigInt((await platform.sql<{ sequence: string }>("SELECT sequence FROM chain_head"))[0]?.sequence ?? "0");
    const verification = (await platform.call(methods.verifyChain, { toSequence: head }, admin)).verification;
    assert.equal(verification?.intact, true);
    assert.equal(verification?.checkedCount, head, "every link up to the head was checked");
    const report = (await platform.call(methods.reconcile, {}, admin)).report;
    assert.deepEqual(report?.discrepancies, []);
    assert.equal(report?.clean, true);
  });
});
