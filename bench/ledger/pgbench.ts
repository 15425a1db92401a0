// The yardstick: PostgreSQL's own pgbench running the smallest honest
// transfer — lock two balance rows in id order, insert a debit and a credit
// entry, update both balances, commit — one transfer per transaction, on the
// same server the ledger uses. Its throughput is what "one SQL transaction per
// transfer" can do on this machine; the ledger's batching is measured against it.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { percentile, sortedLatencies } from "./load.ts";

const run = promisify(execFile);

export const pgbenchAccounts = 1000;

export const transferScript = `\\set a random(1, ${pgbenchAccounts})
\\set b random(1, ${pgbenchAccounts - 1})
\\if :b >= :a
\\set b :b + 1
\\endif
BEGIN;
SELECT id FROM bench_balance WHERE id IN (:a, :b) ORDER BY id FOR UPDATE;
INSERT INTO bench_entry (account_id, counterparty_id, direction, amount) VALUES (:a, :b, 'DEBIT', 1), (:b, :a, 'CREDIT', 1);
UPDATE bench_balance SET debits_posted = debits_posted + 1 WHERE id = :a;
UPDATE bench_balance SET credits_posted = credits_posted + 1 WHERE id = :b;
COMMIT;
`;

/** Tables shaped like the ledger's hot path: NUMERIC(78,0) totals, an entry per side. */
export async function preparePgbenchDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE bench_balance (
        id integer PRIMARY KEY,
        debits_posted NUMERIC(78,0) NOT NULL DEFAULT 0,
        credits_posted NUMERIC(78,0) NOT NULL DEFAULT 0,
        CHECK (debits_posted <= credits_posted + 1000000000000)
      );
      CREATE TABLE bench_entry (
        id bigserial PRIMARY KEY,
        account_id integer NOT NULL REFERENCES bench_balance(id),
        counterparty_id integer NOT NULL REFERENCES bench_balance(id),
        direction text NOT NULL,
        amount NUMERIC(78,0) NOT NULL CHECK (amount > 0),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX ON bench_entry (account_id, id);
      INSERT INTO bench_balance (id) SELECT generate_series(1, ${pgbenchAccounts});`);
  } finally {
    await client.end();
  }
}

export interface PgbenchResult {
  clients: number;
  transactionsPerSecond: number;
  transactions: number;
  /** CPU of the pgbench process itself, in milliseconds. */
  clientCpuMs: number;
  /** CPU of the PostgreSQL server during the run, in milliseconds. */
  postgresCpuMs: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  commandLine: string;
}

/** Runs pgbench with `clients` connections for `durationSeconds`, logging every transaction for percentiles. */
export async function runPgbench(
  pgbenchPath: string,
  databaseUrl: string,
  options: { clients: number; durationSeconds: number; postgresCpuMs: () => number },
): Promise<PgbenchResult> {
  const directory = mkdtempSync(path.join(os.tmpdir(), "trustmesh-pgbench-"));
  try {
    const scriptPath = path.join(directory, "transfer.sql");
    writeFileSync(scriptPath, transferScript);
    const args = [
      "--no-vacuum",
      "--file",
      scriptPath,
      "--client",
      String(options.clients),
      "--jobs",
      String(Math.min(options.clients, 2)),
      "--time",
      String(options.durationSeconds),
      "--log",
      "--log-prefix",
      path.join(directory, "log"),
      databaseUrl,
    ];
    const postgresBefore = options.postgresCpuMs();
    // GNU time reports pgbench's own CPU on stderr.
    const { stdout, stderr } = await run("/usr/bin/time", ["-f", "pgbench-cpu %U %S", pgbenchPath, ...args], {
      cwd: directory,
      maxBuffer: 16 * 1024 * 1024,
    });
    // pgbench's backends have exited; give the postmaster a moment to reap them, or their CPU counts nowhere.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const postgresCpuMs = options.postgresCpuMs() - postgresBefore;
    const [, userSeconds, systemSeconds] = /pgbench-cpu ([\d.]+) ([\d.]+)/.exec(stderr) ?? [];
    const tps = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(stdout)?.[1];
    if (tps === undefined) throw new Error(`cannot read pgbench's tps from:\n${stdout}`);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? "0");
    // Each log line: client_id transaction_no time_us script_no time_epoch time_us_fraction.
    const latencies = readdirSync(directory)
      .filter((name) => name.startsWith("log"))
      .flatMap((name) => readFileSync(path.join(directory, name), "utf8").trim().split("\n"))
      .map((line) => Number(line.split(" ")[2]) / 1000)
      .filter((value) => Number.isFinite(value));
    const sorted = sortedLatencies(latencies);
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? "0");
    return {
      clients: options.clients,
      transactionsPerSecond: Number(tps),
      transactions,
      clientCpuMs: (Number(userSeconds ?? Number.NaN) + Number(systemSeconds ?? Number.NaN)) * 1000,
      postgresCpuMs,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      failed,
      commandLine: `pgbench ${args.slice(0, -1).join(" ").replaceAll(directory, "<tmp>")} <database>`,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
