// The HealthProcessingService implementation, assembled from its areas.
import type { ServiceImpl } from "@connectrpc/connect";
import type { HealthProcessingService } from "@trustmesh/api";
import { createAuditHandlers } from "./audit-handlers.ts";
import { createConsentHandlers } from "./consent-handlers.ts";
import type { HandlerDependencies } from "./context.ts";
import { createJobHandlers } from "./job-handlers.ts";

export type { HandlerDependencies } from "./context.ts";

export function createHealthProcessingServiceImpl(dependencies: HandlerDependencies): ServiceImpl<typeof HealthProcessingService> {
  return {
    ...createConsentHandlers(dependencies),
    ...createJobHandlers(dependencies),
    ...createAuditHandlers(dependencies),
  };
}
