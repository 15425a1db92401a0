// The server interceptor stack, in the order DESIGN.md §3 fixes: tracing
// outermost (so everything sees the span), error mapping innermost (so every
// interceptor above sees the final status code).
import type { Interceptor } from "@connectrpc/connect";
import type { TokenVerifier } from "../auth/token-verifier.ts";
import type { Logger } from "../logger.ts";
import type { RpcMetrics } from "../metrics.ts";
import { createAuthInterceptor } from "./auth.ts";
import { createDeadlineInterceptor } from "./deadline.ts";
import { createErrorMappingInterceptor } from "./error-mapping.ts";
import { createLoggingInterceptor } from "./logging.ts";
import { createMetricsInterceptor } from "./metrics.ts";
import { createTracingInterceptor } from "./tracing.ts";
import { createValidationInterceptor } from "./validation.ts";

export interface InterceptorStackOptions {
  /** Error domain in google.rpc.ErrorInfo, e.g. "ledger.trustmesh.dev". */
  domain: string;
  logger: Logger;
  metrics: RpcMetrics;
  verifier: TokenVerifier;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
}

export function createInterceptorStack(options: InterceptorStackOptions): Interceptor[] {
  return [
    createTracingInterceptor(),
    createMetricsInterceptor(options.metrics.serverRequests, options.metrics.serverDuration),
    createLoggingInterceptor(options.logger),
    createDeadlineInterceptor(options),
    createAuthInterceptor(options),
    createValidationInterceptor(options),
    createErrorMappingInterceptor(options),
  ];
}
