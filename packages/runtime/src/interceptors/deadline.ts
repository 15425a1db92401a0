// Every RPC gets a deadline: the caller's (grpc-timeout / connect-timeout-ms)
// capped at maxTimeoutMs, or defaultTimeoutMs when the caller sent none. A
// handler that ignores its signal still answers DEADLINE_EXCEEDED on time, and
// the deadline is stored for downstream calls.
//
// This runs on every RPC, so deadlines are watched by one sweep every
// deadlineSweepMs over the calls in flight rather than by a timer per call, and
// on the grpc-js port the transport's own end-call capability (endCallKey) ends
// the call, so no controller or promise race is built (bench/rpc measured both).
import { Code, ConnectError, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { callScopeStorage, type EndCall, endCallKey } from "../call-scope.ts";

const grpcTimeoutUnitsMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** How often deadlines are checked: a deadline fires at most this late. */
export const deadlineSweepMs = 10;

/** The timeout the caller asked for, in milliseconds, or undefined. */
export function requestedTimeoutMs(header: Headers): number | undefined {
  const grpcTimeout = header.get("grpc-timeout");
  if (grpcTimeout) {
    const unit = grpcTimeoutUnitsMs[grpcTimeout.slice(-1)];
    const value = Number(grpcTimeout.slice(0, -1));
    if (unit !== undefined && Number.isFinite(value)) return value * unit;
  }
  const connectTimeout = Number(header.get("connect-timeout-ms"));
  return connectTimeout > 0 ? connectTimeout : undefined;
}

interface InFlight {
  deadlineAtMs: number;
  timeoutMs: number;
  end: EndCall;
}

/** Calls in flight, swept while there are any. */
const inFlight = new Set<InFlight>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = Date.now();
  for (const call of inFlight) {
    if (call.deadlineAtMs > now) continue;
    inFlight.delete(call);
    call.end(new ConnectError(`deadline of ${call.timeoutMs} ms exceeded`, Code.DeadlineExceeded));
  }
  if (inFlight.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

function watch(call: InFlight): void {
  inFlight.add(call);
  sweeper ??= setInterval(sweep, deadlineSweepMs).unref();
}

/**
 * For transports without an end-call capability (the Connect port): a signal
 * of our own for the handler, and a promise that fails when the call must end.
 */
function endableCall(request: { signal: AbortSignal }) {
  const controller = new AbortController();
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const end: EndCall = (error) => {
    controller.abort(error);
    fail(error);
  };
  const onCallerGone = () => end(ConnectError.from(request.signal.reason, Code.Canceled));
  request.signal.addEventListener("abort", onCallerGone, { once: true });
  return { signal: controller.signal, end, failed, release: () => request.signal.removeEventListener("abort", onCallerGone) };
}

export function createDeadlineInterceptor(options: { defaultTimeoutMs: number; maxTimeoutMs: number }): Interceptor {
  return (next) => (request) => {
    // Streams (Watch RPCs) live as long as the caller wants; the transports
    // enforce a deadline the caller sets on them.
    if (request.stream) return next(request);
    const timeoutMs = Math.min(requestedTimeoutMs(request.header) ?? options.defaultTimeoutMs, options.maxTimeoutMs);
    const deadlineAtMs = Date.now() + timeoutMs;
    const transportEnd = request.contextValues.get(endCallKey);
    if (transportEnd) {
      const call = { deadlineAtMs, timeoutMs, end: transportEnd };
      watch(call);
      const done = () => inFlight.delete(call);
      return callScopeStorage.run({ deadlineAtMs, signal: request.signal }, () => next(request)).finally(done) as Promise<
        UnaryResponse | StreamResponse
      >;
    }
    const endable = endableCall(request);
    const call = { deadlineAtMs, timeoutMs, end: endable.end };
    watch(call);
    const answered = callScopeStorage.run({ deadlineAtMs, signal: endable.signal }, () => next({ ...request, signal: endable.signal }));
    return Promise.race([answered, endable.failed]).finally(() => {
      inFlight.delete(call);
      endable.release();
    });
  };
}
