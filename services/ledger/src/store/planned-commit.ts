// A batch of transfers planned outside the lock window (README: "What
// serialises batches", "One round trip"). The batch is planned on a state
// that needs no lock:
//  - known: the balances the writer's own batches left (chain-tip.ts), when it
//    knows every account the batch names — nothing is read;
//  - read: one round trip reads the batch's balances, keys and the chain head
//    without locks (ledger_read_batch), and the batches this writer planned
//    but has not seen committed are laid over that.
// Then one statement, ledger_commit_planned_batch, is the whole transaction:
// it takes the chain head's lock, refuses (SQLSTATE LG001) unless the head and
// every named balance are exactly what the plan assumed, writes, and commits.
// A plan on known state read no keys: a key it took for new that a committed
// transaction holds refuses it too — by the key's unique index for the
// transactions it writes, by a lookup for the operations it rejected. The lock is
// held only while PostgreSQL works, and this batch is planned while the one
// before it is written.
//
// Transfers depend on nothing else: accounts never change, and a committed key
// moves the head. A refused batch wrote nothing; it is planned again
// (batch-commit.ts). Resolutions of pending transactions are always planned
// under the lock.
import type pg from "pg";
import {
  type ChainPosition,
  idempotencyKeyId,
  type Job,
  namedAccountIds,
  type Operation,
  type Outcome,
  planBatch,
} from "../domain/engine.ts";
import type { AccountRecord, BalanceRecord } from "../domain/records.ts";
import type { BatchCommitDependencies, CommittedBatch } from "./batch-commit.ts";
import { onBatchConnection, type RecordPlan } from "./batch-connection.ts";
import { type BatchStateJson, toBatchState } from "./batch-state.ts";
import { textArray } from "./binary-array.ts";
import { type KeyLookup, plannedState } from "./chain-tip.ts";
import { balanceColumns, writeColumns } from "./write-plan.ts";

/** The SQLSTATE ledger_commit_planned_batch raises when the state moved since the batch was planned. */
const stalePlanState = "LG001";
/** A transaction's key is taken: the plan took it for new without reading it. */
const takenKeyIndex = "ledger_transaction_idempotency_scope_idempotency_key_key";

function isRefusal(error: unknown): boolean {
  const { code, constraint } = error as { code?: string; constraint?: string };
  return code === stalePlanState || (code === "23505" && constraint === takenKeyIndex);
}

/** Where a planned batch's state comes from: the writer's own knowledge, or a read without locks. */
export type PlanningState = "known" | "read";

/**
 * What became of the attempt: the committed batch; "refused" when the state
 * it was planned on had moved; "unplanned" when this state could not plan it
 * (accounts the tip does not know, or a read the tip cannot place).
 */
export type PlannedAttempt = CommittedBatch | "refused" | "unplanned";

type KeyedOperation = Pick<Operation, "scope" | "idempotencyKey">;

interface StartingState {
  head: ChainPosition;
  balances: Map<string, BalanceRecord>;
  existingKeys: KeyLookup;
  /** Whether keys absent from existingKeys were looked up (read), or are only not known (known). */
  keysRead: boolean;
}

/** Commits transfer-only jobs planned outside the lock window, on the given state. */
export async function commitPlannedBatch(
  jobs: readonly Job[],
  dependencies: BatchCommitDependencies,
  onPlanned: () => void,
  from: PlanningState,
): Promise<PlannedAttempt> {
  const operations = jobs.flatMap((job) => job.operations);
  if (operations.some((operation) => operation.type !== "transfer"))
    throw new Error("ledger: only transfers are planned outside the lock window");
  try {
    return await onBatchConnection(dependencies.pool, dependencies.tip, onPlanned, (client, recordPlan) =>
      commitOnConnection(jobs, operations, dependencies, client, recordPlan, from),
    );
  } catch (error) {
    // A refused batch wrote nothing and was rolled back; it is planned again.
    if (isRefusal(error)) return "refused";
    throw error;
  }
}

async function commitOnConnection(
  jobs: readonly Job[],
  operations: readonly Operation[],
  dependencies: BatchCommitDependencies,
  client: pg.PoolClient,
  recordPlan: RecordPlan,
  from: PlanningState,
): Promise<PlannedAttempt> {
  const named = namedAccountIds(operations);
  const accounts = dependencies.knownAccounts([...named]);
  const state =
    from === "known" ? knownState(dependencies, named, accounts) : await readState(dependencies, client, operations, named, accounts);
  if (state === undefined) return "unplanned";
  const { head, balances, existingKeys } = state;
  const plan = planBatch(jobs, {
    accounts,
    balances,
    existingKeys,
    pendings: new Map(),
    resolutions: new Map(),
    head,
    now: dependencies.now(),
    newId: dependencies.newId,
  });
  // Before the plan joins the tip: a known state's keys are a view of the tip, and these are the keys it was planned on.
  const rejectedKeys = state.keysRead ? [] : rejectedUnreadKeys(jobs, plan.outcomes, existingKeys);
  const planned = recordPlan(plannedState(head, plan), balances);
  const checks: unknown[] = [
    // The balances the plan assumed: every named account's.
    ...balanceColumns([...balances.values()]),
    head.sequence.toString(),
    head.hash,
    textArray(rejectedKeys.map((key) => key.scope)),
    textArray(rejectedKeys.map((key) => key.idempotencyKey)),
  ];
  const values = [...checks, ...writeColumns(plan)];
  // No BEGIN or COMMIT: the one statement is its own transaction, so the batch is one round trip.
  const commit = () =>
    client.query({
      // Named, so each connection parses and plans the call once.
      name: "ledger_commit_planned_batch",
      text: `SELECT ledger_commit_planned_batch(${values.map((_, index) => `$${index + 1}`).join(", ")})`,
      values,
    });
  try {
    await commit();
  } catch (error) {
    // The batch before this one left on another connection and may not have
    // reached the head's lock first: the chain was then behind this plan, not
    // off it. Once that batch has committed, the same plan is sent again (and
    // checked again); a refusal with nothing in flight before it is real.
    const before = isRefusal(error) ? dependencies.tip.settledBefore(planned) : undefined;
    if (before === undefined || !(await before)) throw error;
    dependencies.resent();
    await commit();
  }
  return { plan, pendings: new Map() };
}

/** The state after this writer's planned batches, when the tip knows every named account (and they all exist). */
function knownState(
  dependencies: BatchCommitDependencies,
  named: ReadonlySet<string>,
  accounts: ReadonlyMap<string, AccountRecord>,
): StartingState | undefined {
  if (accounts.size !== named.size) return undefined;
  const known = dependencies.tip.known(named);
  if (known === undefined) return undefined;
  return { head: known.head, balances: known.balances, existingKeys: known.keys, keysRead: false };
}

/** The batch's balances, keys and the chain head read without locks, with the batches planned since laid over. */
async function readState(
  dependencies: BatchCommitDependencies,
  client: pg.PoolClient,
  operations: readonly KeyedOperation[],
  named: ReadonlySet<string>,
  accounts: Map<string, AccountRecord>,
): Promise<StartingState | undefined> {
  const read = await client.query<{ state: BatchStateJson }>({
    // Named, so each connection parses and plans the call once.
    name: "ledger_read_batch",
    text: "SELECT ledger_read_batch($1, $2, $3, $4) AS state",
    values: [
      [...named],
      operations.map((operation) => operation.scope),
      operations.map((operation) => operation.idempotencyKey),
      [...accounts.keys()],
    ],
  });
  const { head: readHead, balances, existingKeys } = toBatchState(read.rows[0]?.state, accounts, dependencies.rememberAccounts);
  const laidOver = dependencies.tip.after(readHead);
  if (laidOver === undefined) return undefined;
  let head = readHead;
  for (const batch of laidOver) {
    for (const [accountId, balance] of batch.balances) if (named.has(accountId)) balances.set(accountId, balance);
    for (const [key, existing] of batch.keys) existingKeys.set(key, existing);
    head = batch.head;
  }
  return { head, balances, existingKeys, keysRead: true };
}

/** The distinct keys the plan rejected operations under without knowing whether they are taken. */
function rejectedUnreadKeys(jobs: readonly Job[], outcomes: readonly (readonly Outcome[])[], existingKeys: KeyLookup): KeyedOperation[] {
  const rejected = new Map<string, KeyedOperation>();
  jobs.forEach((job, jobIndex) => {
    job.operations.forEach((operation, operationIndex) => {
      if (outcomes[jobIndex]?.[operationIndex]?.status !== "rejected") return;
      const id = idempotencyKeyId(operation.scope, operation.idempotencyKey);
      if (!existingKeys.has(id)) rejected.set(id, operation);
    });
  });
  return [...rejected.values()];
}
