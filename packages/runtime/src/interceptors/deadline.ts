// Every RPC gets a deadline: the caller's (grpc-timeout / connect-timeout-ms,
// already applied to request.signal by the transport) capped at maxTimeoutMs,
// or defaultTimeoutMs when the caller sent none. A handler that ignores its
// signal still answers DEADLINE_EXCEEDED on time, and the deadline is stored
// for downstream calls.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { callScopeStorage } from "../call-scope.ts";

const timeoutHeaders = ["grpc-timeout", "connect-timeout-ms"];
const grpcTimeoutUnitsMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** The timeout the caller asked for, in milliseconds, or undefined. */
export function requestedTimeoutMs(header: Headers): number | undefined {
  const grpcTimeout = header.get(timeoutHeaders[0] as string);
  if (grpcTimeout) {
    const unit = grpcTimeoutUnitsMs[grpcTimeout.slice(-1)];
    const value = Number(grpcTimeout.slice(0, -1));
    if (unit !== undefined && Number.isFinite(value)) return value * unit;
  }
  const connectTimeout = Number(header.get(timeoutHeaders[1] as string));
  return connectTimeout > 0 ? connectTimeout : undefined;
}

export function createDeadlineInterceptor(options: { defaultTimeoutMs: number; maxTimeoutMs: number }): Interceptor {
  return (next) => async (request) => {
    // Streams (Watch RPCs) live as long as the caller wants; the transports
    // enforce a deadline the caller sets on them.
    if (request.stream) return next(request);
    const timeoutMs = Math.min(requestedTimeoutMs(request.header) ?? options.defaultTimeoutMs, options.maxTimeoutMs);
    // The handler's signal: aborted at the deadline or when the caller goes away.
    // Built by hand rather than with AbortSignal.any, and every listener removed
    // when the call ends, because this runs on every RPC (see bench/rpc).
    const deadline = new AbortController();
    let fail: (error: ConnectError) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    const onCallerGone = () => {
      const error = ConnectError.from(request.signal.reason, Code.Canceled);
      deadline.abort(error);
      fail(error);
    };
    request.signal.addEventListener("abort", onCallerGone, { once: true });
    const timer = setTimeout(() => {
      const error = new ConnectError(`deadline of ${timeoutMs} ms exceeded`, Code.DeadlineExceeded);
      deadline.abort(error);
      fail(error);
    }, timeoutMs);
    const scope = { deadlineAtMs: Date.now() + timeoutMs, signal: deadline.signal };
    try {
      return await Promise.race([callScopeStorage.run(scope, () => next({ ...request, signal: deadline.signal })), failed]);
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onCallerGone);
    }
  };
}
