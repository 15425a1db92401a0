// The LedgerService implementation: every RPC of the contract.
import type { ServiceImpl } from "@connectrpc/connect";
import type { LedgerService } from "@trustmesh/api";
import { createAccountHandlers } from "./accounts.ts";
import { createAuditHandlers } from "./audit.ts";
import type { LedgerServiceDependencies } from "./dependencies.ts";
import { createPostingHandlers } from "./posting.ts";
import { createReadHandlers } from "./reads.ts";

export type { LedgerServiceDependencies } from "./dependencies.ts";

export function createLedgerServiceImpl(dependencies: LedgerServiceDependencies): ServiceImpl<typeof LedgerService> {
  return {
    ...createAccountHandlers(dependencies),
    ...createPostingHandlers(dependencies),
    ...createReadHandlers(dependencies),
    ...createAuditHandlers(dependencies),
  };
}
