// The PostgreSQL server run.ts and profile.ts measure on: durable (fsync and
// synchronous_commit on, as in production), with its autovacuum runs logged,
// and with the WAL set up as a server sized for this write rate has it.
//
// The WAL, from session 23 (services/ledger/README.md, "Session 23"). With
// PostgreSQL's defaults (max_wal_size 1 GB, min_wal_size 80 MB) the batched
// rows, at about 30 MB of WAL a second, requested a checkpoint every 20–50 s.
// After each one the first change to every page writes the whole 8 kB page to
// the WAL, and the random leaves of the idempotency-key and account indexes are
// most of what a transfer touches; the recycled segments ran out and backends
// created, zero-filled and flushed new 16 MB ones while commits waited. The
// open-loop rows that came after them created 31–32 segments in 8 s, with p99s
// of 40.5–73.1 ms, all misses. PostgreSQL's own
// guidance is to size max_wal_size so that checkpoints come from
// checkpoint_timeout, not from WAL volume: here 16 GB against about 3.5 GB that
// a whole run.ts writes, so the only checkpoint in a run is the timed one (every
// 5 minutes, the default, which may land in one of run.ts's later rows).
// min_wal_size keeps 4 GB of segments for reuse at each checkpoint, and the
// server starts with them already made (recycledWalSegments), as one that has
// run a while has them.
import type { PostgresServer } from "@trustmesh/testkit";
import { startPostgres } from "@trustmesh/testkit";
import { autovacuumLogSettings } from "./autovacuum-log.ts";
import { runStatements } from "./statements.ts";

export const walSettings = ["max_wal_size=16GB", "min_wal_size=4GB"];

/** Segments made before the first measurement: about what a whole run.ts writes (16 MB each). */
const recycledSegmentCount = 256;

/**
 * Statements that leave `count` WAL segments recycled: each switch starts a
 * new segment, and the checkpoint renames the ones behind it to future names,
 * keeping up to min_wal_size of them.
 */
function recycledWalSegments(count: number): string[] {
  return [
    "CREATE TABLE bench_wal_fill (n integer)",
    `DO $$ BEGIN FOR i IN 1..${count} LOOP INSERT INTO bench_wal_fill VALUES (i); PERFORM pg_switch_wal(); END LOOP; END $$`,
    "DROP TABLE bench_wal_fill",
    "CHECKPOINT",
  ];
}

/** `name=value` with a plain name and value, as the server's command line takes it (`--postgres-setting`). */
export function plainSetting(setting: string): string {
  if (!/^[a-z_][a-z0-9_.]*=[A-Za-z0-9_.:-]+$/.test(setting))
    throw new Error(`--postgres-setting takes name=value (letters, digits, _ . : -), not '${setting}'`);
  return setting;
}

/**
 * Starts the bench's server in `dataDir` with `settings` after the bench's own
 * (the server takes the last of a repeated setting), and makes its recycled
 * WAL segments.
 */
export async function startBenchPostgres(dataDir: string, settings: readonly string[]): Promise<PostgresServer> {
  const postgres = await startPostgres({ dataDir, ephemeral: false, settings: [...autovacuumLogSettings, ...walSettings, ...settings] });
  await runStatements(await postgres.ensureDatabase("postgres"), recycledWalSegments(recycledSegmentCount));
  return postgres;
}
