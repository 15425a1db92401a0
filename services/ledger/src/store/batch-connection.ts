// One batch's connection from the writer's pipelined pool, and what every
// batch does when it fails: the chain tip forgets the batch it planned (and
// those planned on it), the transaction is rolled back, and a connection that
// cannot even roll back is discarded rather than returned to the pool.
import type pg from "pg";
import type { BalanceRecord } from "../domain/records.ts";
import type { ChainTip, PlannedState } from "./chain-tip.ts";

/**
 * Tells the tip about the batch just planned, and the balances it was planned
 * on: committed once `work` resolves, failed if it throws. Returns the tip's
 * handle of the batch.
 */
export type RecordPlan = (state: PlannedState, plannedOn: ReadonlyMap<string, BalanceRecord>) => object;

/**
 * Runs one batch's work on a connection of the writer's pool. `onPlanned` is
 * told once the batch's plan is on the tip: the writer starts the next batch
 * then, so that batch is planned on this one instead of beside it.
 */
export async function onBatchConnection<T>(
  pool: pg.Pool,
  tip: ChainTip,
  onPlanned: () => void,
  work: (client: pg.PoolClient, recordPlan: RecordPlan) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  let planned: object | undefined;
  try {
    const result = await work(client, (state, plannedOn) => {
      const handle = tip.add(state, plannedOn);
      planned = handle;
      onPlanned();
      return handle;
    });
    if (planned !== undefined) tip.committed(planned);
    return result;
  } catch (error) {
    if (planned !== undefined) tip.failed(planned);
    // Harmless when the transaction already ended; a connection that cannot even roll back is discarded.
    await client.query("ROLLBACK").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
