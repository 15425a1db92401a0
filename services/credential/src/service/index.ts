// The CredentialService handlers, by area.
import type { ServiceImpl } from "@connectrpc/connect";
import type { CredentialService } from "@trustmesh/api";
import type { CredentialServiceDependencies } from "./dependencies.ts";
import { createDidHandlers } from "./dids.ts";
import { createIssuanceHandlers } from "./issuance.ts";
import { createReadHandlers } from "./reads.ts";
import { createStatusHandlers } from "./status.ts";
import { createVerifyHandlers } from "./verify.ts";

export type { CredentialServiceDependencies } from "./dependencies.ts";

export function createCredentialServiceImpl(dependencies: CredentialServiceDependencies): ServiceImpl<typeof CredentialService> {
  return {
    ...createDidHandlers(dependencies),
    ...createIssuanceHandlers(dependencies),
    ...createReadHandlers(dependencies),
    ...createStatusHandlers(dependencies),
    ...createVerifyHandlers(dependencies),
  };
}
