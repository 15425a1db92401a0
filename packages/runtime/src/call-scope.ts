// The deadline and cancellation signal of the RPC being handled, kept in the
// async context so that clients created with createServiceClient pass them on
// to downstream calls without every handler threading them through. Served
// calls carry it in their OpenTelemetry call context (telemetry/call-context.ts),
// which the tracing interceptor has made active anyway; callScopeStorage is
// for calls without one (no tracing interceptor, or no context manager).
import { AsyncLocalStorage } from "node:async_hooks";
import { createContextKey } from "@connectrpc/connect";
import { context } from "@opentelemetry/api";
import { callScopeOf } from "./telemetry/call-context.ts";

export interface CallScope {
  /** Epoch milliseconds after which the current RPC has failed. */
  readonly deadlineAtMs: number;
  readonly signal: AbortSignal;
}

export const callScopeStorage = new AsyncLocalStorage<CallScope>();

export function currentCallScope(): CallScope | undefined {
  return callScopeStorage.getStore() ?? callScopeOf(context.active());
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
  /**
   * The caller's own timeout in milliseconds from now, as the transport read
   * it, or undefined when the caller set none. The grpc-js adapter knows the
   * call's deadline, so the deadline interceptor needs no header round trip.
   */
  callerTimeoutMs?(): number | undefined;
  /** Whoever watches the call; the transport tells it once, when the caller has been answered. */
  watcher: CallWatcher | undefined;
}

export interface CallWatcher {
  answered(): void;
}

export const endableCallKey = createContextKey<EndableCall | undefined>(undefined, { description: "trustmesh endable call" });
