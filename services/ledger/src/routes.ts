// What the ledger process serves.
import { LedgerService } from "@trustmesh/api";
import { registration, type ServiceDefinition } from "@trustmesh/runtime";
import { ledgerConfigShape } from "./config.ts";

export const ledgerDefinition: ServiceDefinition<typeof ledgerConfigShape> = {
  name: "ledger",
  configShape: ledgerConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  // No handler yet: Connect answers UNIMPLEMENTED for every LedgerService RPC
  // until issue #4 lands them. Authentication, authorization and
  // validation still run first, so callers already get the real errors for those.
  createServices: () => [registration(LedgerService, {})],
};
