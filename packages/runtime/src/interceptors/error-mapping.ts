// The innermost interceptor: turns whatever a handler throws into a Connect
// error. DomainErrors keep their code and gain google.rpc details; anything
// else is a bug, logged with its cause and returned as INTERNAL with no
// internals, because stack traces and SQL belong in logs, not in responses.
// One unexpected error is not a bug but overload: no database connection came
// free in time. That is UNAVAILABLE (retry later, with the same idempotency
// key), as gRPC's status guide has it for transient conditions.
import { Code, ConnectError, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { badRequestDetail, errorInfoDetail } from "../error-details.ts";
import { DomainError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { callNext } from "../rpc-status.ts";

/** pg-pool's message when every connection stayed busy for its connectionTimeoutMillis. */
const poolExhaustedMessage = "timeout exceeded when trying to connect";
/** How deep the cause chain is searched; drivers and ORMs wrap an error once or twice. */
const causeDepthMax = 5;

/** Whether the error, or one it wraps, says the database pool had no connection to give. */
export function isDatabasePoolExhausted(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < causeDepthMax && current instanceof Error; depth++) {
    if (current.message === poolExhaustedMessage) return true;
    current = current.cause;
  }
  return false;
}

export function toConnectError(error: unknown, domain: string, logger: Logger): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof DomainError) {
    const details = [errorInfoDetail(error.reason, domain, error.metadata)];
    if (error.violations.length > 0) details.push(badRequestDetail(error.violations));
    return new ConnectError(error.message, error.code, undefined, details, error);
  }
  if (error instanceof Error && error.name === "AbortError") {
    return new ConnectError("the call was cancelled", Code.Canceled);
  }
  if (isDatabasePoolExhausted(error)) {
    logger.warn({ err: error }, "no database connection came free in time; answered UNAVAILABLE");
    return new ConnectError("the service is busy; retry shortly (with the same idempotency key)", Code.Unavailable, undefined, [
      errorInfoDetail("DATABASE_BUSY", domain),
    ]);
  }
  logger.error({ err: error }, "unexpected error in handler");
  return new ConnectError("internal error", Code.Internal);
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, map: (error: unknown) => ConnectError): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw map(error);
  }
}

export function createErrorMappingInterceptor(options: { domain: string; logger: Logger }): Interceptor {
  const map = (error: unknown) => toConnectError(error, options.domain, options.logger);
  // Built once: this runs on every RPC, and neither handler needs the call.
  const mapResponse = <R extends UnaryResponse | StreamResponse>(response: R): R =>
    response.stream ? { ...response, message: mapStreamErrors(response.message, map) } : response;
  const mapError = (error: unknown): never => {
    throw map(error);
  };
  return (next) => (request) => callNext(next, request).then(mapResponse, mapError);
}
