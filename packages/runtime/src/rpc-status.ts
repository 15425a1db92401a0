// Helpers shared by the interceptors that observe how an RPC ended.
import type { StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { Code, ConnectError, createContextKey } from "@connectrpc/connect";

/** gRPC's canonical names (OK, INVALID_ARGUMENT ...), as Prometheus and OpenTelemetry use them. */
const codeNames: ReadonlyMap<number, string> = new Map([
  [0, "OK"],
  ...Object.entries(Code)
    .filter(([, value]) => typeof value === "number")
    .map(([name, value]) => [value as number, name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase()] as const),
]);

export function codeName(code: number): string {
  return codeNames.get(code) ?? "UNKNOWN";
}

/** The status code an error will reach the caller with. */
export function codeOf(error: unknown): Code {
  return ConnectError.from(error).code;
}

/**
 * Calls onEnd once when a response is complete: at once for unary responses,
 * after the last message (or the first error) for streams. Streaming RPCs would
 * otherwise be counted when their headers are sent, not when they finish.
 */
export function whenResponseEnds<R extends UnaryResponse | StreamResponse>(
  response: R,
  onEnd: (error: unknown) => void,
  wrapNext?: <T>(next: () => Promise<T>) => Promise<T>,
): R {
  if (!response.stream) {
    onEnd(undefined);
    return response;
  }
  const source = response.message;
  const message: AsyncIterable<unknown> = {
    [Symbol.asyncIterator]() {
      const iterator = source[Symbol.asyncIterator]();
      let ended = false;
      const end = (error: unknown) => {
        if (ended) return;
        ended = true;
        onEnd(error);
      };
      const pull = () => (wrapNext ? wrapNext(() => iterator.next()) : iterator.next());
      return {
        async next() {
          try {
            const result = await pull();
            if (result.done) end(undefined);
            return result;
          } catch (error) {
            end(error);
            throw error;
          }
        },
        async return(value?: unknown) {
          // The caller went away before the stream finished.
          end(new ConnectError("stream cancelled", Code.Canceled));
          return iterator.return ? iterator.return(value) : { done: true, value };
        },
      };
    },
  };
  return { ...response, message } as R;
}

/**
 * Calls the next step of an interceptor chain, turning a synchronous throw into
 * a rejected promise. Interceptors here are plain functions rather than async
 * ones — each async layer costs a promise and a microtask per call (bench/rpc)
 * — so one that throws before returning must not escape as a throw. It takes
 * the step and its argument, not a closure, so a call allocates nothing here.
 */
export function callNext<Q, R>(next: (request: Q) => Promise<R>, request: Q): Promise<R> {
  try {
    return next(request);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Told once how a call ended: undefined when it succeeded, else the error its caller got. */
export type EndListener = (error: unknown) => void;

/**
 * Offered in the context values by a transport that answers unary calls
 * itself (the grpc-js adapter). It tells every listener, innermost first, the
 * outcome the caller got at the moment the caller got it. Interceptors that
 * only observe how a call ended (tracing, metrics, logging) then need no
 * promise layer of their own on every call (bench/rpc), and a call the
 * deadline ended counts as the DEADLINE_EXCEEDED its caller received rather
 * than as whatever its handler did later.
 */
export interface CallEnd {
  listen(listener: EndListener): void;
}

export const callEndKey = createContextKey<CallEnd | undefined>(undefined, { description: "trustmesh call end" });

/**
 * Calls next, and onEnd once when the call has ended: through the transport's
 * CallEnd for a unary call where there is one, otherwise when the response
 * settles (for a stream, after its last message; wrapNext wraps each pull).
 * Meant for interceptors whose outer neighbours do not change a call's
 * outcome, which holds for the server stack (error mapping is innermost).
 */
export function observeEnd(
  next: (request: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>,
  request: UnaryRequest | StreamRequest,
  onEnd: EndListener,
  wrapNext?: <T>(next: () => Promise<T>) => Promise<T>,
): Promise<UnaryResponse | StreamResponse> {
  const transportEnd = request.stream ? undefined : request.contextValues.get(callEndKey);
  if (transportEnd) {
    transportEnd.listen(onEnd);
    return callNext(next, request);
  }
  return callNext(next, request).then(
    (response) => whenResponseEnds(response, onEnd, wrapNext),
    (error: unknown) => {
      onEnd(error);
      throw error;
    },
  );
}
