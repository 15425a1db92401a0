// The OpenTelemetry context of one server call, made by the tracing
// interceptor: the caller's context, the call's span, and the call's scope
// (deadline and signal for downstream calls, call-scope.ts), which the
// deadline interceptor fills in once.
//
// This runs on every RPC. trace.setSpan copies the parent context's Map, and
// a second AsyncLocalStorage run for the call scope copied the async context
// frame again; one object and one frame per call carry both (bench/rpc
// measured about 1 KB of garbage per call less).
import { type Context, createContextKey, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, type Span, trace } from "@opentelemetry/api";
import type { CallScope } from "../call-scope.ts";

/**
 * The key trace.setSpan keeps the active span under. @opentelemetry/api makes
 * its context keys with Symbol.for(description), so this is the same symbol;
 * checked once below, and should a release change it, the span is set through
 * trace.setSpan instead.
 */
const spanKey = createContextKey("OpenTelemetry Context Key SPAN");
const spanKeyIsTheApis = (() => {
  const probe = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  return trace.getSpan(ROOT_CONTEXT.setValue(spanKey, probe)) === probe;
})();

const callScopeKey = createContextKey("trustmesh call scope");

/** A context derived from a call context (a child span's, say): one key over its parent, as BaseContext would copy it. */
class DerivedContext implements Context {
  readonly #parent: Context;
  readonly #key: symbol;
  readonly #value: unknown;

  constructor(parent: Context, key: symbol, value: unknown) {
    this.#parent = parent;
    this.#key = key;
    this.#value = value;
  }

  getValue(key: symbol): unknown {
    return key === this.#key ? this.#value : this.#parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return new DerivedContext(this, key, value);
  }

  deleteValue(key: symbol): Context {
    return new DerivedContext(this, key, undefined);
  }
}

export class CallContext implements Context {
  readonly #parent: Context;
  readonly #span: Span | undefined;
  #scope: CallScope | undefined;

  constructor(parent: Context, span: Span) {
    this.#parent = spanKeyIsTheApis ? parent : trace.setSpan(parent, span);
    this.#span = spanKeyIsTheApis ? span : undefined;
  }

  /**
   * Gives the call its scope. Only once: a context is shared by everything
   * that runs under it, so a second scope (a call nested in this one without
   * its own call context) must live elsewhere; false then.
   */
  adoptScope(scope: CallScope): boolean {
    if (this.#scope) return false;
    this.#scope = scope;
    return true;
  }

  getValue(key: symbol): unknown {
    if (key === spanKey && this.#span) return this.#span;
    if (key === callScopeKey) return this.#scope;
    return this.#parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return new DerivedContext(this, key, value);
  }

  deleteValue(key: symbol): Context {
    return new DerivedContext(this, key, undefined);
  }
}

/** The call scope a context carries, undefined when it is not (derived from) a call context or has none yet. */
export function callScopeOf(context: Context): CallScope | undefined {
  return context.getValue(callScopeKey) as CallScope | undefined;
}
