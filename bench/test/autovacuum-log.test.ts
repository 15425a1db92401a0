// bench/ledger/autovacuum-log.ts reads PostgreSQL's own log lines, whose
// wording is the server's: this test makes a real server's autovacuum run,
// with the settings profile.ts applies, and reads its log.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type PostgresServer, startPostgres } from "@trustmesh/testkit";
import pg from "pg";
import { autovacuumLogSettings, autovacuumRuns, runsInWindow } from "../ledger/autovacuum-log.ts";
import { walSegmentBirthsMs } from "../ledger/ledger-metrics.ts";
import { findPostmaster, postgresCpuMs } from "../ledger/process-cpu.ts";
import { runStatements } from "../ledger/statements.ts";

describe("bench/ledger's readers of a PostgreSQL server: autovacuum log, CPU, WAL segments", () => {
  let root: string;
  let postgres: PostgresServer;

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), "trustmesh-bench-test-"));
    // The server may run as another user than this test (never as root), and must reach its folder.
    chmodSync(root, 0o755);
    postgres = await startPostgres({
      dataDir: path.join(root, "data"),
      ephemeral: false,
      settings: [...autovacuumLogSettings, "autovacuum_naptime=1"],
    });
  });

  after(async () => {
    await postgres?.stop();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it("reads each autovacuum run of a table, vacuum and analyze, with its times and CPU", async () => {
    const startedMs = Date.now();
    await runStatements(postgres.url, [
      "CREATE TABLE churn (id int PRIMARY KEY, body text)",
      // Any change at all makes the table due, so the test need not write much.
      `ALTER TABLE churn SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0,
         autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0)`,
      "INSERT INTO churn SELECT i, repeat('x', 100) FROM generate_series(1, 2000) AS i",
      "DELETE FROM churn WHERE id % 2 = 0",
    ]);
    const deadline = Date.now() + 60_000;
    let runs = autovacuumRuns(postgres.dataDir).filter((found) => found.table === "public.churn");
    while (!(runs.some((found) => found.kind === "vacuum") && runs.some((found) => found.kind === "analyze")) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      runs = autovacuumRuns(postgres.dataDir).filter((found) => found.table === "public.churn");
    }
    assert.ok(
      runs.some((found) => found.kind === "vacuum"),
      `no vacuum of public.churn read: ${JSON.stringify(runs)}`,
    );
    assert.ok(
      runs.some((found) => found.kind === "analyze"),
      `no analyze of public.churn read: ${JSON.stringify(runs)}`,
    );
    for (const found of runs) {
      // The log's times are whole milliseconds and the run's elapsed time is rounded to 10 ms.
      assert.ok(
        found.startMs >= startedMs - 1000 && found.endMs <= Date.now() + 1000,
        `run at ${found.startMs}–${found.endMs}, test from ${startedMs}`,
      );
      assert.ok(found.startMs <= found.endMs, JSON.stringify(found));
      assert.ok(Number.isFinite(found.cpuSeconds) && found.cpuSeconds >= 0, JSON.stringify(found));
    }
    // A window keeps the runs that overlap it, and only those.
    const first = runs[0] as (typeof runs)[number];
    assert.deepEqual(runsInWindow(runs, startedMs - 1000, Date.now() + 1000), runs);
    assert.deepEqual(runsInWindow(runs, first.startMs - 60_000, first.startMs - 1), []);
    // A run's logged elapsed time may round to nothing; a window across its start still holds it.
    assert.ok(runsInWindow(runs, first.startMs - 1, first.startMs + 1).includes(first), "a run that starts inside the window overlaps it");
  });

  it("counts the CPU of the server's backends, alive and exited", async () => {
    const postmaster = findPostmaster(postgres.dataDir);
    const before = postgresCpuMs(postmaster);
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    const backend = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    // Seconds of one backend's CPU.
    await client.query("SELECT count(*) FROM generate_series(1, 5000000) AS i WHERE md5(i::text) LIKE 'a%'");
    const whileAlive = postgresCpuMs(postmaster) - before;
    assert.ok(whileAlive > 500, `the server used ${whileAlive} ms of CPU with the backend alive`);

    await client.end();
    // Once the postmaster has reaped the backend, its CPU is counted among the exited children's.
    const deadline = Date.now() + 10_000;
    while (existsSync(`/proc/${backend}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(!existsSync(`/proc/${backend}`), `backend ${backend} still runs`);
    const afterExit = postgresCpuMs(postmaster) - before;
    assert.ok(afterExit >= whileAlive, `the server used ${afterExit} ms of CPU after the backend exited, ${whileAlive} ms before`);
  });

  it("dates the WAL segments the server creates, and only those, inside the window", async () => {
    const before = walSegmentBirthsMs(postgres.dataDir);
    const openedMs = Date.now();
    // Each switch after a write moves to the next segment: a new file, or one a checkpoint recycled earlier.
    const switches = 5;
    await runStatements(
      postgres.url,
      Array.from({ length: switches }, () => [
        "CREATE TABLE IF NOT EXISTS wal_fill (n int)",
        "INSERT INTO wal_fill VALUES (1)",
        "SELECT pg_switch_wal()",
      ]).flat(),
    );
    const closedMs = Date.now();
    const after = walSegmentBirthsMs(postgres.dataDir);
    const born = [...after].filter(([, bornMs]) => bornMs >= openedMs - 1000);
    // A checkpoint (initdb's, or the server's at start) may have left a segment or two recycled ahead; the rest are new files.
    assert.ok(
      born.length >= switches - 2 && born.length <= switches,
      `${born.length} segments born for ${switches} switches: ${JSON.stringify(born)}`,
    );
    for (const [name, bornMs] of born) {
      assert.ok(!before.has(name), `${name} was there before the window`);
      assert.ok(bornMs <= closedMs + 1000, `${name} born at ${bornMs}, window closed at ${closedMs}`);
    }
  });
});
