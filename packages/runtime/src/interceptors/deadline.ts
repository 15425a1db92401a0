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
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new ConnectError(`deadline of ${timeoutMs} ms exceeded`, Code.DeadlineExceeded)),
      timeoutMs,
    );
    const signal = AbortSignal.any([request.signal, deadline.signal]);
    const scope = { deadlineAtMs: Date.now() + timeoutMs, signal };
    const expired = new Promise<never>((_, reject) => {
      signal.addEventListener("abort", () => reject(ConnectError.from(signal.reason, Code.Canceled)), { once: true });
    });
    expired.catch(() => {}); // Observed through Promise.race below; never unhandled.
    try {
      return await Promise.race([callScopeStorage.run(scope, () => next({ ...request, signal })), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}
