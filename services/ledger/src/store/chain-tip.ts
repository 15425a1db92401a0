// What the batch writer has planned but not yet seen committed: for each such
// batch, the chain position it was planned on, the position it leads to, the
// balances it leaves and the keys it takes. A batch of transfers read without
// locks lays these over what it read, so it can be planned while the batches
// before it are still being written (README: "What serialises batches").
//
// The tip also knows balances: every balance a batch read or changed, as it
// stands after the newest planned batch, as long as each batch planned here
// was planned on the one before it. A batch whose accounts are all known is
// planned on that without reading anything (README: "One round trip").
//
// Nothing here is trusted: ledger_commit_planned_batch checks the head and
// every balance under the head's lock, and a batch planned on a wrong tip is
// refused there and planned again.
import { LRUCache } from "lru-cache";
import { type BatchPlan, type ChainPosition, idempotencyKeyId } from "../domain/engine.ts";
import type { BalanceRecord } from "../domain/records.ts";

type TakenKey = { transactionId: string; requestHash: Buffer };

export interface PlannedState {
  /** The head the batch was planned on. */
  previous: ChainPosition;
  /** The head once the batch commits. */
  head: ChainPosition;
  /** Balances the batch changes, as it leaves them. */
  balances: ReadonlyMap<string, BalanceRecord>;
  /** Keys the batch takes, by idempotencyKeyId. */
  keys: ReadonlyMap<string, TakenKey>;
}

/** Keys by idempotencyKeyId: the two questions a plan asks of them. */
export type KeyLookup = Pick<ReadonlyMap<string, TakenKey>, "get" | "has">;

/** The state after the newest planned batch, as far as the tip knows it. */
export interface KnownState {
  head: ChainPosition;
  /** The balances asked for. */
  balances: Map<string, BalanceRecord>;
  /**
   * Keys taken by the batches the tip holds; any other key was not read. A
   * view of the tip: it answers for the batches held when it is asked.
   */
  keys: KeyLookup;
}

interface Entry extends PlannedState {
  committed: boolean;
  /** Settles true when the batch commits, false when it fails. */
  settled: Promise<boolean>;
  settle: (committed: boolean) => void;
}

export interface ChainTip {
  /**
   * The planned batches a state read at `head` lacks, oldest first: none when
   * it lacks nothing, undefined when it cannot be told (a batch is still in
   * flight and `head` is not on the chain of planned batches).
   */
  after(head: ChainPosition): readonly PlannedState[] | undefined;
  /**
   * The state after the newest planned batch for these accounts; undefined
   * unless every one of them is known.
   */
  known(accountIds: ReadonlySet<string>): KnownState | undefined;
  /**
   * Records a batch just planned, with the balances it was planned on (every
   * account it names); returns a handle for committed() or failed().
   */
  add(state: PlannedState, plannedOn: ReadonlyMap<string, BalanceRecord>): object;
  /**
   * Whether the batch this one was planned on commits, while that batch is
   * still in flight; undefined when it has settled (or this batch was planned
   * on nothing in flight here).
   */
  settledBefore(handle: object): Promise<boolean> | undefined;
  committed(handle: object): void;
  /** The batch did not commit: it and every batch planned on it leave the tip, and no balance is known any more. */
  failed(handle: object): void;
}

export interface ChainTipOptions {
  /** Most balances known at once, least recently used out. */
  balancesMax: number;
  /** Committed batches kept for reads that began before they committed. */
  committedMax?: number;
}

const samePosition = (a: ChainPosition, b: ChainPosition) => a.sequence === b.sequence && a.hash.equals(b.hash);

export function createChainTip({ balancesMax, committedMax = 8 }: ChainTipOptions): ChainTip {
  let entries: Entry[] = [];
  // Every key the held batches took, in one map kept as they come and go: a
  // plan looks up each of its keys once, instead of in every held batch's
  // own map (up to committedMax + in flight of them, about 2.5 µs a transfer).
  // Two held batches never take one key (a batch planned on the tip sees the
  // keys of every batch held, one planned on a read sees those committed
  // before it), so a batch that leaves takes out exactly its own keys; were
  // it otherwise, a key missing here is only a key planned as new, which
  // ledger_commit_planned_batch refuses if it is taken.
  const keys = new Map<string, TakenKey>();
  const keyLookup: KeyLookup = { get: (key) => keys.get(key), has: (key) => keys.has(key) };
  const hold = (entry: Entry) => {
    entries.push(entry);
    for (const [key, taken] of entry.keys) keys.set(key, taken);
  };
  const release = (left: readonly Entry[]) => {
    for (const entry of left) for (const [key, taken] of entry.keys) if (keys.get(key) === taken) keys.delete(key);
  };
  // Every balance here is as it stands at knownHead: the head after the newest planned batch.
  const balances = new LRUCache<string, BalanceRecord>({ max: balancesMax });
  let knownHead: ChainPosition | undefined;
  const forget = () => {
    balances.clear();
    knownHead = undefined;
  };
  return {
    after(head) {
      const index = entries.findIndex((entry) => samePosition(entry.previous, head));
      if (index !== -1) return entries.slice(index);
      // A read that already sees a planned batch's head saw it commit, whether or not its COMMIT's
      // answer has reached us yet (the answers of two connections arrive in either order): it lacks
      // only the batches after that one.
      const seen = entries.findIndex((entry) => samePosition(entry.head, head));
      if (seen !== -1) return entries.slice(seen + 1);
      // Everything planned here is committed, so a read sees it or is older than it: either way
      // nothing can be laid over it, and the check under the locks refuses a read that is too old.
      return entries.every((entry) => entry.committed) ? [] : undefined;
    },
    known(accountIds) {
      if (knownHead === undefined) return undefined;
      const found = new Map<string, BalanceRecord>();
      for (const accountId of accountIds) {
        const balance = balances.get(accountId);
        if (balance === undefined) return undefined;
        found.set(accountId, balance);
      }
      return { head: knownHead, balances: found, keys: keyLookup };
    },
    add(state, plannedOn) {
      // Batches planned on this one's position or later, and not committed, were planned on
      // something this batch's plan does not include: they will be refused, so they leave now.
      const superseded = (entry: Entry) => !entry.committed && entry.previous.sequence >= state.previous.sequence;
      release(entries.filter(superseded));
      entries = entries.filter((entry) => !superseded(entry));
      let settle: (committed: boolean) => void = () => {};
      const settled = new Promise<boolean>((resolve) => {
        settle = resolve;
      });
      const entry: Entry = { ...state, committed: false, settled, settle };
      hold(entry);
      while (entries.length > committedMax && entries[0]?.committed) release([entries.shift() as Entry]);
      // Balances known at the head this batch was planned on stay true after it, but for the ones it
      // changes; planned on anything else (a read older than the tip, a batch under the lock after
      // another writer), the batch's own accounts are all that is known.
      if (knownHead === undefined || !samePosition(knownHead, state.previous)) balances.clear();
      for (const [accountId, balance] of plannedOn) balances.set(accountId, balance);
      for (const [accountId, balance] of state.balances) balances.set(accountId, balance);
      knownHead = state.head;
      return entry;
    },
    settledBefore(handle) {
      const index = entries.indexOf(handle as Entry);
      const before = index > 0 ? entries[index - 1] : undefined;
      if (before === undefined || before.committed || !samePosition(before.head, (handle as Entry).previous)) return undefined;
      return before.settled;
    },
    committed(handle) {
      (handle as Entry).committed = true;
      (handle as Entry).settle(true);
    },
    failed(handle) {
      // Batches dropped with it settle when their own attempts end, as every batch does.
      (handle as Entry).settle(false);
      const index = entries.indexOf(handle as Entry);
      if (index !== -1) {
        release(entries.slice(index));
        entries = entries.slice(0, index);
      }
      // What the tip knew included this batch: nothing of it is sure any more.
      forget();
    },
  };
}

/** What a batch's plan means for the batches planned after it. */
export function plannedState(previous: ChainPosition, plan: BatchPlan): PlannedState {
  const keys = new Map<string, TakenKey>();
  for (const transaction of plan.transactions) {
    keys.set(idempotencyKeyId(transaction.idempotencyScope, transaction.idempotencyKey), {
      transactionId: transaction.id,
      requestHash: transaction.requestHash,
    });
  }
  return { previous, head: plan.head, balances: new Map(plan.changedBalances.map((balance) => [balance.accountId, balance])), keys };
}
