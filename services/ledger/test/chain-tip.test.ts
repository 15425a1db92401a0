// Goal: the writer's tip lays exactly the batches a read lacks over it, and
// says so when it cannot tell (so the batch is planned under the lock instead).
import assert from "node:assert/strict";
import type { ChainPosition } from "../src/domain/engine.ts";
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

describe("chain tip", () => {
  it("lays the batches planned after a read's head over it, oldest first", () => {
    const tip = createChainTip();
    assert.deepEqual(tip.after(position(0)), [], "an empty tip lacks nothing");
    const first = tip.add(planned(10, 15));
    tip.add(planned(15, 20));
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
    const tip = createChainTip();
    const first = tip.add(planned(10, 15));
    tip.add(planned(15, 20));
    tip.failed(first);
    assert.deepEqual(tip.after(position(10)), [], "nothing is left to lay over");
    const replanned = tip.add(planned(10, 14));
    tip.add(planned(14, 18));
    tip.add(planned(10, 12)); // planned under the lock on the committed head: the others were planned on something else
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

  it("keeps a bounded number of committed batches", () => {
    const tip = createChainTip(2);
    for (let sequence = 0; sequence < 5; sequence++) tip.committed(tip.add(planned(sequence, sequence + 1)));
    assert.equal(tip.after(position(0))?.length, 0, "the oldest committed batches are forgotten");
    assert.deepEqual(
      tip.after(position(3))?.map((state) => state.head.sequence),
      [4n, 5n],
    );
  });
});
