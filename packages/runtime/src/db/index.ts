export {
  type AppliedMigration,
  type ApplyMigrationsOptions,
  applyMigrations,
  type MigrationLogger,
  migrationsTableName,
  readMigrationFiles,
} from "./migrate.ts";
export { type CreatePrismaClientOptions, createPrismaClient } from "./prisma.ts";
export { type CheckSchemaOptions, checkSchemaMatchesDatabase } from "./schema-check.ts";
