// Applies one service's migrations and exits: the container's `migrate <service>`
// command, which the Helm chart runs as a Job before an install or upgrade.
// The same runner the services use at start (@trustmesh/runtime/db), so a
// migration applied here is recorded and skipped by the pods that follow.
//
//   DATABASE_URL=postgresql://... node scripts/migrate.ts <service>
import { join } from "node:path";
import { createLogger } from "@trustmesh/runtime";
import { applyMigrations } from "@trustmesh/runtime/db";

export const migratableServices = ["auth", "payments", "ledger", "credential", "health-processing", "face"] as const;

export async function migrate(service: string, databaseUrl: string | undefined): Promise<number> {
  if (!(migratableServices as readonly string[]).includes(service)) {
    console.error(`migrate: unknown service "${service}"; expected one of ${migratableServices.join(", ")}`);
    return 2;
  }
  if (!databaseUrl) {
    console.error("migrate: DATABASE_URL is required but not set");
    return 2;
  }
  const logger = createLogger({ name: `${service}-migrate`, level: process.env.LOG_LEVEL ?? "info" });
  const migrationsDir = join(import.meta.dirname, "..", "services", service, "prisma", "migrations");
  try {
    const applied = await applyMigrations({ databaseUrl, migrationsDir, logger });
    logger.info({ applied: applied.map((migration) => migration.name) }, `${applied.length} migration(s) applied`);
    return 0;
  } catch (error) {
    logger.error({ err: error }, "migration failed");
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await migrate(process.argv[2] ?? "", process.env.DATABASE_URL);
}
