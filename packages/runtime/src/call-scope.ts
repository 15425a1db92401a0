// The deadline and cancellation signal of the RPC being handled, kept in
// AsyncLocalStorage so that clients created with createServiceClient pass them
// on to downstream calls without every handler threading them through.
import { AsyncLocalStorage } from "node:async_hooks";

export interface CallScope {
  /** Epoch milliseconds after which the current RPC has failed. */
  readonly deadlineAtMs: number;
  readonly signal: AbortSignal;
}

export const callScopeStorage = new AsyncLocalStorage<CallScope>();

export function currentCallScope(): CallScope | undefined {
  return callScopeStorage.getStore();
}
