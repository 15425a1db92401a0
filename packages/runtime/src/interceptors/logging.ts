// One structured line per finished RPC. Successful calls log at debug so the
// hot path stays cheap at info; failures log at info (the caller's fault) or
// error (ours), with the trace id from the active span. Nothing is built for
// a line whose level is off.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { principalKey } from "../context.ts";
import type { Logger } from "../logger.ts";
import { codeName, codeOf, observeEnd } from "../rpc-status.ts";

/** Codes that mean the server, not the caller, is at fault. */
const serverFaultCodes = new Set<Code>([Code.Internal, Code.Unknown, Code.DataLoss, Code.Unavailable, Code.Unimplemented]);

interface RpcRequest {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly contextValues: ContextValues;
}

function logFinished(logger: Logger, request: RpcRequest, startedAt: number, error: unknown): void {
  const code = error === undefined ? undefined : codeOf(error);
  const level = code === undefined ? "debug" : serverFaultCodes.has(code) ? "error" : "info";
  if (!logger.isLevelEnabled(level)) return;
  const principal = request.contextValues.get(principalKey);
  logger[level](
    {
      rpc: `${request.service.typeName}/${request.method.name}`,
      code: codeName(code ?? 0),
      duration_ms: Math.round((performance.now() - startedAt) * 1000) / 1000,
      principal: principal?.kind === "user" ? `user:${principal.userId}` : principal ? `service:${principal.serviceName}` : undefined,
      err: error instanceof Error ? { message: error.message } : undefined,
    },
    "rpc finished",
  );
}

export function createLoggingInterceptor(logger: Logger): Interceptor {
  return (next) => (request) => {
    const startedAt = performance.now();
    return observeEnd(next, request, (error) => logFinished(logger, request, startedAt, error));
  };
}
