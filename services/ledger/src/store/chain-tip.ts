// What the batch writer has planned but not yet seen committed: for each such
// batch, the chain position it was planned on, the position it leads to, the
// balances it leaves and the keys it takes. A batch of transfers read without
// locks lays these over what it read, so it can be planned while the batches
// before it are still being written (README: "What serialises batches").
// Nothing here is trusted: ledger_lock_planned_batch checks the head and every
// balance under the locks, and a batch planned on a wrong tip is refused
// there and planned again under the lock.
import { type BatchPlan, type ChainPosition, idempotencyKeyId } from "../domain/engine.ts";
import type { BalanceRecord } from "../domain/records.ts";

export interface PlannedState {
  /** The head the batch was planned on. */
  previous: ChainPosition;
  /** The head once the batch commits. */
  head: ChainPosition;
  /** Balances the batch changes, as it leaves them. */
  balances: ReadonlyMap<string, BalanceRecord>;
  /** Keys the batch takes, by idempotencyKeyId. */
  keys: ReadonlyMap<string, { transactionId: string; requestHash: Buffer }>;
}

interface Entry extends PlannedState {
  committed: boolean;
}

export interface ChainTip {
  /**
   * The planned batches a state read at `head` lacks, oldest first: none when
   * it lacks nothing, undefined when it cannot be told (a batch is still in
   * flight and `head` is not on the chain of planned batches).
   */
  after(head: ChainPosition): readonly PlannedState[] | undefined;
  /** Records a batch just planned; returns a handle for committed() or failed(). */
  add(state: PlannedState): object;
  committed(handle: object): void;
  /** The batch did not commit: it and every batch planned on it leave the tip. */
  failed(handle: object): void;
}

const samePosition = (a: ChainPosition, b: ChainPosition) => a.sequence === b.sequence && a.hash.equals(b.hash);

/** Committed batches are kept (at most `committedMax`) for reads that began before they committed. */
export function createChainTip(committedMax = 8): ChainTip {
  let entries: Entry[] = [];
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
    add(state) {
      // Batches planned on this one's position or later, and not committed, were planned on
      // something this batch's plan does not include: they will be refused, so they leave now.
      entries = entries.filter((entry) => entry.committed || entry.previous.sequence < state.previous.sequence);
      const entry: Entry = { ...state, committed: false };
      entries.push(entry);
      while (entries.length > committedMax && entries[0]?.committed) entries.shift();
      return entry;
    },
    committed(handle) {
      (handle as Entry).committed = true;
    },
    failed(handle) {
      const index = entries.indexOf(handle as Entry);
      if (index !== -1) entries = entries.slice(0, index);
    },
  };
}

/** What a batch's plan means for the batches planned after it. */
export function plannedState(previous: ChainPosition, plan: BatchPlan): PlannedState {
  const keys = new Map<string, { transactionId: string; requestHash: Buffer }>();
  for (const transaction of plan.transactions) {
    keys.set(idempotencyKeyId(transaction.idempotencyScope, transaction.idempotencyKey), {
      transactionId: transaction.id,
      requestHash: transaction.requestHash,
    });
  }
  return { previous, head: plan.head, balances: new Map(plan.changedBalances.map((balance) => [balance.accountId, balance])), keys };
}
