// What the ledger process serves, and the work it does on its own: the batch
// writer, the pending-expiry sweeper and scheduled reconciliation. All three
// stop on shutdown after in-flight RPCs drained and before the pool closes.
import { LedgerService } from "@trustmesh/api";
import { createServicePool, registration, type ServiceDefinition } from "@trustmesh/runtime";
import { createAccountCache } from "./account-cache.ts";
import { reconcile } from "./audit/reconcile.ts";
import { createReconcileSchedule } from "./audit/reconcile-schedule.ts";
import { ledgerConfigShape } from "./config.ts";
import { timeOrderedUuid } from "./domain/time-ordered-id.ts";
import { createExpirySweeper } from "./expiry-sweeper.ts";
import { createLedgerMetrics } from "./metrics.ts";
import { createLedgerServiceImpl, type LedgerServiceDependencies } from "./service/index.ts";
import { commitBatch } from "./store/batch-commit.ts";
import { readHead } from "./store/chain.ts";
import { createChainTip } from "./store/chain-tip.ts";
import { ensureSystemAccounts } from "./system-accounts.ts";
import { createTransactionWriter, type TransactionWriter } from "./writer.ts";

/** Chain transactions read per query by VerifyChain and Reconcile. */
const chainPageSize = 1000;
/** Sweep rounds per tick at most, so a backlog of expiries cannot monopolise the writer. */
const sweepRoundsMax = 10;

export const ledgerDefinition: ServiceDefinition<typeof ledgerConfigShape> = {
  name: "ledger",
  configShape: ledgerConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  async createServices({ config, pool, logger, metrics: rpcMetrics, onStop }) {
    const now = () => new Date();
    const created = await ensureSystemAccounts(pool, now);
    if (created > 0) logger.info({ created }, "system accounts created");

    let writer: TransactionWriter | undefined;
    const metrics = createLedgerMetrics({
      registry: rpcMetrics.registry,
      readChainLength: async () => (await readHead(pool)).sequence,
      readOpenPendingCount: async () =>
        Number((await pool.query<{ count: string }>("SELECT count(*) FROM open_pending")).rows[0]?.count ?? 0),
      queueDepth: () => writer?.queuedOperations() ?? 0,
    });
    const accountCache = createAccountCache({ entriesMax: config.LEDGER_ACCOUNT_CACHE_MAX });
    // The batch writer's own connections, one per batch in flight, in pg's pipeline mode
    // (README: "Batching"): a batch of transfers is one round trip when the writer knows its
    // balances, two when it reads them, instead of four. Ended last on
    // shutdown (stop hooks run in reverse), after the writer has drained.
    const writerPool = createServicePool(
      {
        connectionString: config.DATABASE_URL,
        max: config.LEDGER_BATCHES_IN_FLIGHT,
        // How long a batch waits for a row lock before giving up (and being retried): a
        // setting of these connections, so BEGIN needs no SET LOCAL.
        lock_timeout: config.LEDGER_LOCK_TIMEOUT_MS,
        pipeline: true,
      },
      logger,
      "ledger writer",
    );
    onStop(() => writerPool.end());
    // One per process, like the writer whose batches it follows.
    const tip = createChainTip({ balancesMax: config.LEDGER_ACCOUNT_CACHE_MAX });
    writer = createTransactionWriter({
      commit: (jobs, onPlanned) =>
        commitBatch(
          jobs,
          {
            pool: writerPool,
            knownAccounts: (ids) => accountCache.known(ids),
            rememberAccounts: (accounts) => accountCache.remember(accounts),
            now,
            newId: () => timeOrderedUuid(),
            tip,
            replanned: (from) => metrics.replannedBatches.inc({ from }),
            resent: () => metrics.resentBatches.inc(),
          },
          onPlanned,
        ),
      batchSizeMax: config.LEDGER_BATCH_SIZE_MAX,
      lingerMs: config.LEDGER_BATCH_LINGER_MS,
      batchesInFlightMax: config.LEDGER_BATCHES_IN_FLIGHT,
      pipelineOperationsMin: config.LEDGER_PIPELINE_OPERATIONS_MIN,
      queueOperationsMax: config.LEDGER_WRITE_QUEUE_MAX,
      attemptsMax: 3,
      metrics,
      logger,
    });
    const chain = { pageSize: chainPageSize, transactionsMax: config.LEDGER_CHAIN_VERIFY_MAX };
    const dependencies: LedgerServiceDependencies = {
      pool,
      writer,
      now,
      chain,
      reconcile: {
        chain,
        overdueGraceMs: config.LEDGER_PENDING_OVERDUE_GRACE_MS,
        now,
      },
      onReconciled(report) {
        metrics.recordReconciliation({ clean: report.clean, chainIntact: report.chain.intact, finishedAt: report.finishedAt });
      },
    };
    const sweeper = createExpirySweeper({
      pool,
      writer,
      intervalMs: config.LEDGER_PENDING_SWEEP_INTERVAL_MS,
      batchMax: config.LEDGER_PENDING_SWEEP_BATCH_MAX,
      roundsMax: sweepRoundsMax,
      now,
      logger,
    });
    const schedule = createReconcileSchedule({
      run: async () => {
        const report = await reconcile(pool, { accountIds: null, currencies: null }, dependencies.reconcile);
        dependencies.onReconciled(report);
        return report;
      },
      intervalMs: config.LEDGER_RECONCILE_INTERVAL_MS,
      initialDelayMs: config.LEDGER_RECONCILE_INITIAL_DELAY_MS,
      logger,
    });
    sweeper.start();
    schedule.start();
    const writerToClose = writer;
    onStop(async () => {
      await Promise.all([sweeper.stop(), schedule.stop()]);
      await writerToClose.close();
    });
    return [registration(LedgerService, createLedgerServiceImpl(dependencies))];
  },
};
