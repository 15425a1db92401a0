// The PaymentsService implementation, assembled from its areas.
import type { ServiceImpl } from "@connectrpc/connect";
import type { PaymentsService } from "@trustmesh/api";
import type { HandlerDependencies } from "./context.ts";
import { createLimitHandlers } from "./limits.ts";
import { createMethodHandlers } from "./methods.ts";
import { createRequestHandlers } from "./requests.ts";
import { createTransferHandlers } from "./transfers.ts";

export type { HandlerDependencies, PaymentsServiceOptions } from "./context.ts";
export { createFingerprinter } from "./context.ts";

export function createPaymentsServiceImpl(dependencies: HandlerDependencies): ServiceImpl<typeof PaymentsService> {
  return {
    ...createTransferHandlers(dependencies),
    ...createRequestHandlers(dependencies),
    ...createMethodHandlers(dependencies),
    ...createLimitHandlers(dependencies),
  };
}
