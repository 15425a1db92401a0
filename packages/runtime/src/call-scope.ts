// The deadline and cancellation signal of the RPC being handled, kept in
// AsyncLocalStorage so that clients created with createServiceClient pass them
// on to downstream calls without every handler threading them through.
import { AsyncLocalStorage } from "node:async_hooks";
import { createContextKey } from "@connectrpc/connect";

export interface CallScope {
  /** Epoch milliseconds after which the current RPC has failed. */
  readonly deadlineAtMs: number;
  readonly signal: AbortSignal;
}

export const callScopeStorage = new AsyncLocalStorage<CallScope>();

export function currentCallScope(): CallScope | undefined {
  return callScopeStorage.getStore();
}

/**
 * A call the transport can end at once with an error: its handler's signal
 * aborts and the caller gets the error, whatever the handler does next.
 * Transports that can (the grpc-js adapter) put it in the context values, so
 * the deadline interceptor needs no controller, race, timer or completion
 * callback of its own per call.
 */
export interface EndableCall {
  end(error: unknown): void;
  /** Whoever watches the call; the transport tells it once, when the caller has been answered. */
  watcher: CallWatcher | undefined;
}

export interface CallWatcher {
  answered(): void;
}

export const endableCallKey = createContextKey<EndableCall | undefined>(undefined, { description: "trustmesh endable call" });
