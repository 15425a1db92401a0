// Goal: the writer's tip lays exactly the batches a read lacks over it, and
// says so when it cannot tell (so the batch is planned under the lock instead);
// and it knows a balance only while every batch since it learned it was planned
// on the one before (so a batch planned on known balances assumes nothing stale).
import assert from "node:assert/strict";
import type { ChainPosition } from "../src/domain/engine.ts";
import type { BalanceRecord } from "../src/domain/records.ts";
import { createChainTip, type PlannedState } from "../src/store/chain-tip.ts";

const position = (sequence: number): ChainPosition => ({
  sequence: BigInt(sequence),
  hash: Buffer.alloc(32, sequence),
  createdAt: new Date(0),
});
const planned = (from: number, to: number): PlannedState => ({
  previous: position(from),
  head: position(to),
  balances: new Map(),
  keys: new Map(),
});

const balance = (accountId: string, creditsPosted: number, lastSequence: number): BalanceRecord => ({
  accountId,
  debitsPosted: 0n,
  creditsPosted: BigInt(creditsPosted),
  debitsPending: 0n,
  creditsPending: 0n,
  lastSequence: BigInt(lastSequence),
});
const balances = (...records: BalanceRecord[]) => new Map(records.map((record) => [record.accountId, record]));
const key = { transactionId: "t-1", requestHash: Buffer.alloc(32, 1) };

describe("chain tip", () => {
  it("lays the batches planned after a read's head over it, oldest first", () => {
    const tip = createChainTip({ balancesMax: 100 });
    assert.deepEqual(tip.after(position(0)), [], "an empty tip lacks nothing");
    const first = tip.add(planned(10, 15), new Map());
    tip.add(planned(15, 20), new Map());
    assert.deepEqual(
      tip.after(position(10))?.map((state) => state.head.sequence),
      [15n, 20n],
    );
    assert.deepEqual(
      tip.after(position(15))?.map((state) => state.head.sequence),
      [20n],
    );
    assert.deepEqual(
      tip.after(position(20)),
      [],
      "a read that sees the newest planned head lacks nothing, though its commit is not known yet",
    );
    assert.equal(tip.after(position(12)), undefined, "a head off the planned chain cannot be told while batches are in flight");
    assert.equal(tip.after({ ...position(10), hash: Buffer.alloc(32, 99) }), undefined, "positions match by hash as well as sequence");
    tip.committed(first);
    assert.deepEqual(
      tip.after(position(10))?.map((state) => state.head.sequence),
      [15n, 20n],
      "a committed batch is still laid over a read that began before it committed",
    );
  });

  it("drops a failed batch and everything planned on it, and batches a newer plan supersedes", () => {
    const tip = createChainTip({ balancesMax: 100 });
    const first = tip.add(planned(10, 15), new Map());
    tip.add(planned(15, 20), new Map());
    tip.failed(first);
    assert.deepEqual(tip.after(position(10)), [], "nothing is left to lay over");
    const replanned = tip.add(planned(10, 14), new Map());
    tip.add(planned(14, 18), new Map());
    tip.add(planned(10, 12), new Map()); // planned under the lock on the committed head: the others were planned on something else
    assert.deepEqual(
      tip.after(position(10))?.map((state) => state.head.sequence),
      [12n],
    );
    tip.failed(replanned);
    assert.deepEqual(
      tip.after(position(10))?.map((state) => state.head.sequence),
      [12n],
      "failing a batch that already left changes nothing",
    );
  });

  it("says whether the batch a batch was planned on commits, while that one is in flight", async () => {
    const tip = createChainTip({ balancesMax: 100 });
    const first = tip.add(planned(10, 15), new Map());
    const second = tip.add(planned(15, 20), new Map());
    const third = tip.add(planned(20, 25), new Map());
    assert.equal(tip.settledBefore(first), undefined, "nothing in flight before the first");
    const secondBefore = tip.settledBefore(second);
    assert.ok(secondBefore);
    tip.committed(first);
    assert.equal(await secondBefore, true);
    assert.equal(tip.settledBefore(second), undefined, "the batch before it has committed");
    const thirdBefore = tip.settledBefore(third);
    tip.failed(second);
    assert.equal(await thirdBefore, false, "the batch it was planned on failed");
    const unrelated = tip.add(planned(40, 45), new Map());
    assert.equal(tip.settledBefore(unrelated), undefined, "planned on a head no batch here leads to");
  });

  it("keeps a bounded number of committed batches", () => {
    const tip = createChainTip({ balancesMax: 100, committedMax: 2 });
    for (let sequence = 0; sequence < 5; sequence++) tip.committed(tip.add(planned(sequence, sequence + 1), new Map()));
    assert.equal(tip.after(position(0))?.length, 0, "the oldest committed batches are forgotten");
    assert.deepEqual(
      tip.after(position(3))?.map((state) => state.head.sequence),
      [4n, 5n],
    );
  });

  it("knows the balances its batches were planned on and left, at the newest planned head", () => {
    const tip = createChainTip({ balancesMax: 100 });
    assert.equal(tip.known(new Set(["a"])), undefined, "nothing is known before a batch is planned");
    tip.add({ ...planned(10, 11), balances: balances(balance("a", 5, 11)) }, balances(balance("a", 0, 3), balance("b", 7, 4)));
    tip.add({ ...planned(11, 12), balances: balances(balance("c", 1, 12)), keys: new Map([["k", key]]) }, balances(balance("c", 0, 0)));
    const known = tip.known(new Set(["a", "b", "c"]));
    assert.deepEqual(known?.head, position(12), "the state is the newest planned batch's");
    assert.deepEqual(
      [...(known?.balances.values() ?? [])].map((record) => [record.accountId, record.creditsPosted]),
      [
        ["a", 5n],
        ["b", 7n],
        ["c", 1n],
      ],
      "a changed balance as its batch left it, an unchanged one as it was planned on",
    );
    assert.deepEqual(known?.keys.get("k"), key, "keys the tip's batches took are known taken");
    assert.equal(tip.known(new Set(["a", "d"])), undefined, "one unknown account and the state is not known");
  });

  it("knows the keys of the batches it holds, and only theirs, as batches come and go", () => {
    const tip = createChainTip({ balancesMax: 100, committedMax: 3 });
    const taken = (id: string) => ({ transactionId: id, requestHash: Buffer.alloc(32, 2) });
    const holding = (from: number, to: number, ...ids: string[]) => ({
      ...planned(from, to),
      balances: balances(balance("a", to, to)),
      keys: new Map(ids.map((id) => [`key-${id}`, taken(id)])),
    });
    const keysKnown = () => ["1", "2", "3", "4", "5"].filter((id) => tip.known(new Set(["a"]))?.keys.has(`key-${id}`));
    const first = tip.add(holding(10, 11, "1"), new Map());
    const second = tip.add(holding(11, 12, "2"), new Map());
    assert.deepEqual(keysKnown(), ["1", "2"]);
    assert.equal(tip.known(new Set(["a"]))?.keys.get("key-2")?.transactionId, "2");
    // A plan at the same position supersedes the one in flight there: its keys go, the new plan's come.
    const third = tip.add(holding(11, 13, "3"), new Map());
    assert.deepEqual(keysKnown(), ["1", "3"], "the superseded batch's key is no longer held");
    tip.committed(first);
    const fourth = tip.add(holding(13, 14, "4"), new Map());
    assert.deepEqual(keysKnown(), ["1", "3", "4"], "a committed batch's keys stay while the tip keeps the batch");
    // Failing a batch that already left takes nothing out; failing a held one takes its keys. (A failure
    // also makes every balance unknown, so the keys are looked at once the next batch is planned.)
    tip.failed(second);
    tip.failed(fourth);
    const fifth = tip.add(holding(13, 15, "5"), new Map());
    assert.deepEqual(keysKnown(), ["1", "3", "5"], "a failed batch's keys go with it, and only its");
    tip.committed(third);
    tip.committed(fifth);
    tip.add(holding(15, 16), new Map());
    tip.add(holding(16, 17), new Map());
    assert.deepEqual(keysKnown(), ["5"], "the oldest committed batches leave the tip, keys and all");
  });

  it("forgets every balance when a batch fails or one is planned on another head", () => {
    const tip = createChainTip({ balancesMax: 100 });
    const first = tip.add({ ...planned(10, 11), balances: balances(balance("a", 5, 11)) }, balances(balance("a", 0, 3)));
    tip.failed(first);
    assert.equal(tip.known(new Set(["a"])), undefined, "a failed batch's balances, and those before it, are not sure");
    tip.add({ ...planned(20, 21), balances: balances(balance("a", 6, 21)) }, balances(balance("a", 1, 3)));
    // Planned on a head off the tip (another writer moved the chain): only its own accounts are known.
    tip.add({ ...planned(30, 31), balances: balances(balance("b", 2, 31)) }, balances(balance("b", 0, 0)));
    assert.equal(tip.known(new Set(["a"])), undefined, "a balance learned at another head is forgotten");
    assert.deepEqual(tip.known(new Set(["b"]))?.head, position(31));
  });

  it("keeps at most balancesMax balances", () => {
    const tip = createChainTip({ balancesMax: 2 });
    tip.add(planned(10, 11), balances(balance("a", 1, 1), balance("b", 1, 1), balance("c", 1, 1)));
    assert.equal(tip.known(new Set(["a"])), undefined, "the least recently used balance left");
    assert.ok(tip.known(new Set(["b", "c"])));
  });
});
