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
import { type ChainPosition, idempotencyKeyId, type Job, namedAccountIds, planBatch } from "../domain/engine.ts";
import type { BalanceRecord } from "../domain/records.ts";
import type { BatchCommitDependencies, CommittedBatch } from "./batch-commit.ts";
import { plannedState } from "./chain-tip.ts";
import { beginStatement, hex } from "./database.ts";
import { type AccountRow, type BalanceRow, toAccount, toBalance } from "./rows.ts";
import { plainArrayLiteral, writePlan } from "./write-plan.ts";

/** ledger_read_batch's answer: rows as JSON, with bytes in hex and timestamps as strings. */
interface ReadState {
  balances: BalanceRow[];
  head: { sequence: string; hash: string; created_at: string } | null;
  keys: { id: string; idempotency_scope: string; idempotency_key: string; request_hash: string }[];
  accounts: (Omit<AccountRow, "created_at"> & { created_at: string })[];
}

/** The SQLSTATE ledger_lock_planned_batch raises when the state moved since the batch was planned. */
const stalePlanState = "LG001";

/** Commits transfer-only jobs planned outside the lock window; undefined when they must be planned under the lock. */
export async function commitPlannedBatch(jobs: readonly Job[], dependencies: BatchCommitDependencies): Promise<CommittedBatch | undefined> {
  const operations = jobs.flatMap((job) => job.operations);
  if (operations.some((operation) => operation.type !== "transfer"))
    throw new Error("ledger: only transfers are planned outside the lock window");
  const named = namedAccountIds(operations);
  const accounts = dependencies.knownAccounts([...named]);
  const client = await dependencies.pool.connect();
  let broken: Error | undefined;
  let planned: object | undefined;
  try {
    const read = await client.query<{ state: ReadState }>({
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
    const state = read.rows[0]?.state;
    if (state?.head === null || state === undefined) throw new Error("ledger: the chain head row is missing");
    const fresh = state.accounts.map((row) => toAccount({ ...row, created_at: new Date(row.created_at) }));
    dependencies.rememberAccounts(fresh);
    for (const account of fresh) accounts.set(account.id, account);
    const readHead: ChainPosition = {
      sequence: BigInt(state.head.sequence),
      hash: hex(state.head.hash),
      createdAt: new Date(state.head.created_at),
    };
    const laidOver = dependencies.tip.after(readHead);
    if (laidOver === undefined) return undefined;
    const balances = new Map<string, BalanceRecord>(state.balances.map((row) => [row.account_id, toBalance(row)]));
    const existingKeys = new Map<string, { transactionId: string; requestHash: Buffer }>(
      state.keys.map((row) => [
        idempotencyKeyId(row.idempotency_scope, row.idempotency_key),
        { transactionId: row.id, requestHash: hex(row.request_hash) },
      ]),
    );
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
    planned = dependencies.tip.add(plannedState(head, plan));
    const assumed = [...balances.values()];
    const [began, locked, written, committed] = await Promise.allSettled([
      client.query(beginStatement(dependencies.lockTimeoutMs)),
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
    ]);
    // The first failure is the cause; the statements after it failed because the transaction had aborted.
    for (const result of [began, locked, written, committed]) if (result.status === "rejected") throw result.reason;
    if (committed.status === "fulfilled" && committed.value.command !== "COMMIT") {
      throw new Error(`ledger: the batch's COMMIT answered ${committed.value.command}`);
    }
    dependencies.tip.committed(planned);
    return { plan, pendings: new Map() };
  } catch (error) {
    if (planned !== undefined) dependencies.tip.failed(planned);
    // Harmless when the transaction already ended; a connection that cannot even roll back is discarded.
    await client.query("ROLLBACK").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    if ((error as { code?: string }).code === stalePlanState) return undefined;
    throw error;
  } finally {
    client.release(broken);
  }
}
