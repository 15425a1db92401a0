// Goal: limits hold under concurrency on real Postgres. 500 sends at once from
// one user, a fifth of them retried duplicates, against a daily limit that only
// some can fit: no limit is exceeded, each idempotency key takes effect once,
// nothing is spent twice, and once the worker is done the ledger reconciles
// (the sender paid exactly the completed payments' amounts and fees, and every
// currency sums to zero).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { Priority } from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import { defaultLimitSchedule, type LimitSchedule } from "../src/domain/limits.ts";
import { type Harness, startHarness } from "./support/harness.ts";

describe("limits under 500 concurrent sends", function () {
  this.timeout(180_000);
  let harness: Harness;
  const sender = randomUUID();
  const recipient = randomUUID();
  const dailyMinor = 50_000n;
  const amountMinor = 150n;

  before(async () => {
    const limitSchedule: LimitSchedule = {
      ...defaultLimitSchedule,
      standard: { ...defaultLimitSchedule.standard, USD: { perTransactionMinor: 1_000n, dailyMinor, monthlyMinor: 1_000_000n } },
    };
    harness = await startHarness({ limitSchedule, poolMax: 16 });
    harness.auth.addUser(sender, "sender@example.com");
    harness.auth.addUser(recipient, "recipient@example.com");
    harness.ledger.fund(sender, "USD", 1_000_000n);
  });

  after(async () => {
    await harness?.close();
  });

  it("accepts exactly what fits, each key once, and the ledger reconciles", async () => {
    const client = await harness.client(sender);
    const keys = Array.from({ length: 400 }, (_, index) => `race-${index}`);
    // 100 keys are sent twice, as a client retrying after a timeout would.
    const calls = [...keys, ...keys.slice(0, 100)].map((key) =>
      client
        .sendPayment({
          idempotencyKey: key,
          recipient: { address: { case: "userId", value: recipient } },
          amount: { currency: "USD", amountMinor: String(amountMinor) },
          priority: Priority.STANDARD,
        })
        .then(
          (response) => ({ key, id: response.payment?.id ?? "", replayed: response.replayed }),
          (error: unknown) => {
            assert.ok(error instanceof ConnectError && error.code === Code.ResourceExhausted, String(error));
            return { key, id: "", replayed: false };
          },
        ),
    );
    const results = await Promise.all(calls);
    const accepted = results.filter((result) => result.id !== "");
    const distinct = new Set(accepted.map((result) => result.id));
    const fits = Number(dailyMinor / amountMinor);
    assert.equal(distinct.size, fits, "exactly as many payments as fit the daily limit");
    // Every answer for one key names the same payment.
    const byKey = new Map<string, string>();
    for (const result of accepted) {
      const seen = byKey.get(result.key);
      if (seen) assert.equal(seen, result.id, `key ${result.key} answered with two payments`);
      byKey.set(result.key, result.id);
    }
    const stored = await harness.query<{ count: string; total: string }>(
      "SELECT count(*)::text AS count, coalesce(sum(amount_minor), 0)::text AS total FROM payment WHERE sender_user_id = $1",
      [sender],
    );
    assert.equal(stored[0]?.count, String(fits));
    const usage = await harness.query<{ used: string }>(
      "SELECT used_minor::text AS used FROM limit_usage WHERE user_id = $1 AND period = 'DAY'",
      [sender],
    );
    assert.ok(BigInt(usage[0]?.used ?? "0") <= dailyMinor);
    assert.equal(usage[0]?.used, stored[0]?.total);

    for (const id of distinct) await harness.waitForState(id, ["COMPLETED"], 120_000);
    const fees = await harness.query<{ fees: string }>(
      "SELECT coalesce(sum(fee_minor), 0)::text AS fees FROM payment WHERE sender_user_id = $1",
      [sender],
    );
    const spent = BigInt(stored[0]?.total ?? "0") + BigInt(fees[0]?.fees ?? "0");
    assert.equal(harness.ledger.posted(harness.ledger.walletOf(sender, "USD") ?? ""), 1_000_000n - spent);
    assert.equal(harness.ledger.posted(harness.ledger.walletOf(recipient, "USD") ?? ""), BigInt(stored[0]?.total ?? "0"));
    for (const [currency, total] of harness.ledger.currencyTotals()) assert.equal(total, 0n, `${currency} sums to zero`);
    assert.equal(harness.ledger.calls.get("PostTransaction"), fits, "one reservation per payment");
  });
});
