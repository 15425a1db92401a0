// What run.ts and profile.ts both do once the ledger is up: a payments token,
// funded wallets, the load generator's target, and a sampler of the ledger's
// and PostgreSQL's costs over each measured window.
import type { PostgresServer } from "@trustmesh/testkit";
import type { LedgerPlatform } from "../../services/ledger/test/support/ledger-platform.ts";
import { ledgerWindowSampler } from "./ledger-metrics.ts";
import type { LoadTarget, WindowSampler } from "./load.ts";
import { findPostmaster, findServiceProcess } from "./process-cpu.ts";
import { createFundedWallets } from "./wallets.ts";

export interface LedgerLoad {
  wallets: string[];
  target: LoadTarget;
  ledgerPid: number;
  postmasterPid: number;
  sampleServers: WindowSampler;
}

export async function prepareLedgerLoad(
  platform: LedgerPlatform,
  postgres: PostgresServer,
  options: { repoRoot: string; walletCount: number; machineBusyCpuMs?: () => number },
): Promise<LedgerLoad> {
  const token = await platform.serviceToken("payments");
  const wallets = await createFundedWallets(platform, token, options.walletCount);
  const ledgerPid = findServiceProcess(options.repoRoot, "ledger");
  const postmasterPid = findPostmaster(postgres.dataDir);
  const sampleServers = ledgerWindowSampler({
    metricsUrl: platform.metricsUrl,
    ledgerPid,
    postmasterPid,
    postgresDataDir: postgres.dataDir,
    sql: platform.sql,
    machineBusyCpuMs: options.machineBusyCpuMs,
  });
  return { wallets, target: { address: platform.ledgerAddress, token, connections: 8 }, ledgerPid, postmasterPid, sampleServers };
}
