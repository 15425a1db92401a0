// Voids pending transactions whose timeout passed (TigerBeetle's pending
// timeout). Every LEDGER_PENDING_SWEEP_INTERVAL_MS it takes up to
// LEDGER_PENDING_SWEEP_BATCH_MAX due transactions from open_pending, oldest
// first, and submits their expiries to the batch writer as one job; a full
// round is followed by another, up to roundsMax per sweep, so a backlog drains
// without starving posting RPCs. Replicas may sweep the same transaction: the
// writer reads resolutions under lock and the expiry key is derived from the
// pending id, so each expires once.
import type { Logger } from "@trustmesh/runtime";
import type pg from "pg";
import { expireOperation } from "./service/requests.ts";
import type { TransactionWriter } from "./writer.ts";

export interface ExpirySweeperOptions {
  pool: pg.Pool;
  writer: TransactionWriter;
  intervalMs: number;
  batchMax: number;
  roundsMax: number;
  now(): Date;
  logger: Logger;
}

export interface ExpirySweeper {
  /** One sweep now; resolves with the number of transactions expired. */
  sweep(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

export function createExpirySweeper(options: ExpirySweeperOptions): ExpirySweeper {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  const sweepRounds = async (): Promise<number> => {
    let expired = 0;
    for (let round = 0; round < options.roundsMax; round++) {
      const due = await options.pool.query<{ transaction_id: string }>(
        "SELECT transaction_id FROM open_pending WHERE timeout_at <= $1 ORDER BY timeout_at LIMIT $2",
        [options.now(), options.batchMax],
      );
      if (due.rows.length === 0) break;
      const result = await options.writer.submit({ operations: due.rows.map((row) => expireOperation(row.transaction_id)), atomic: false });
      expired += result.outcomes.filter((outcome) => outcome.status === "committed").length;
      if (due.rows.length < options.batchMax) break;
    }
    return expired;
  };

  const sweep = () => {
    running ??= sweepRounds().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    sweep,
    start() {
      timer = setInterval(() => {
        sweep().catch((error: unknown) => options.logger.error({ err: error }, "pending expiry sweep failed"));
      }, options.intervalMs);
      // The sweeper alone must not keep the process alive.
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
