// A batch of transfers planned outside the lock window (README: "What
// serialises batches"). One round trip reads the batch's balances, keys and
// the chain head without locks (ledger_read_batch); the batches this writer
// planned and has not seen committed are laid over that (chain-tip.ts); the
// batch is planned; then BEGIN, ledger_lock_planned_batch — the usual locks in
// the usual order, and a refusal (SQLSTATE LG001) unless the head and every
// named balance are exactly what the plan assumed — the write and COMMIT leave
// together in a second round trip. The locks are held only while PostgreSQL
// works, and this batch is planned while the one before it is written.
//
// Transfers depend on nothing else: accounts never change, and a committed key
// moves the head. A refused batch wrote nothing; it is planned again under the
// lock (batch-commit.ts). Resolutions of pending transactions always are.
import type pg from "pg";
import { type Job, namedAccountIds, planBatch } from "../domain/engine.ts";
import type { BatchCommitDependencies, CommittedBatch } from "./batch-commit.ts";
import { onBatchConnection, type RecordPlan } from "./batch-connection.ts";
import { type BatchStateJson, toBatchState } from "./batch-state.ts";
import { plannedState } from "./chain-tip.ts";
import { sentTogether } from "./database.ts";
import { plainArrayLiteral, writePlan } from "./write-plan.ts";

/** The SQLSTATE ledger_lock_planned_batch raises when the state moved since the batch was planned. */
const stalePlanState = "LG001";

/** Commits transfer-only jobs planned outside the lock window; undefined when they must be planned under the lock. */
export async function commitPlannedBatch(
  jobs: readonly Job[],
  dependencies: BatchCommitDependencies,
  onPlanned: () => void,
): Promise<CommittedBatch | undefined> {
  const operations = jobs.flatMap((job) => job.operations);
  if (operations.some((operation) => operation.type !== "transfer"))
    throw new Error("ledger: only transfers are planned outside the lock window");
  try {
    return await onBatchConnection(dependencies.pool, dependencies.tip, onPlanned, (client, recordPlan) =>
      commitOnConnection(jobs, dependencies, client, recordPlan),
    );
  } catch (error) {
    // A refused batch wrote nothing and was rolled back; it is planned again under the lock.
    if ((error as { code?: string }).code === stalePlanState) return undefined;
    throw error;
  }
}

async function commitOnConnection(
  jobs: readonly Job[],
  dependencies: BatchCommitDependencies,
  client: pg.PoolClient,
  recordPlan: RecordPlan,
): Promise<CommittedBatch | undefined> {
  const operations = jobs.flatMap((job) => job.operations);
  const named = namedAccountIds(operations);
  const accounts = dependencies.knownAccounts([...named]);
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
  recordPlan(plannedState(head, plan));
  const assumed = [...balances.values()];
  const [began, locked, written, committed] = await Promise.allSettled(
    sentTogether(client, () => [
      client.query("BEGIN"),
      client.query({
        name: "ledger_lock_planned_batch",
        text: "SELECT ledger_lock_planned_batch($1, $2, $3, $4, $5, $6, $7, $8)",
        values: [
          plainArrayLiteral(assumed.map((balance) => balance.accountId)),
          plainArrayLiteral(assumed.map((balance) => balance.debitsPosted.toString())),
          plainArrayLiteral(assumed.map((balance) => balance.creditsPosted.toString())),
          plainArrayLiteral(assumed.map((balance) => balance.debitsPending.toString())),
          plainArrayLiteral(assumed.map((balance) => balance.creditsPending.toString())),
          plainArrayLiteral(assumed.map((balance) => balance.lastSequence.toString())),
          head.sequence.toString(),
          head.hash,
        ],
      }),
      plan.transactions.length > 0 ? writePlan(client, plan) : Promise.resolve(),
      client.query("COMMIT"),
    ]),
  );
  // The first failure is the cause; the statements after it failed because the transaction had aborted.
  for (const result of [began, locked, written, committed]) if (result.status === "rejected") throw result.reason;
  if (committed.status === "fulfilled" && committed.value.command !== "COMMIT") {
    throw new Error(`ledger: the batch's COMMIT answered ${committed.value.command}`);
  }
  return { plan, pendings: new Map() };
}
