// The EchoService implementation used by the runtime's tests and by bench/rpc:
// no business logic, so what is measured and tested is the runtime itself.
import type { ServiceImpl } from "@connectrpc/connect";
import { trace } from "@opentelemetry/api";
import { EchoService } from "@trustmesh/api/trustmesh/testing/v1/echo_service_pb.js";
import { notFound, principalOf, requireUserId } from "../../src/index.ts";

/** Echo calls whose handler has started, and why each "until_aborted" call's signal aborted, in order; tests read them. */
export const echoCalls = { started: 0, abortReasons: [] as unknown[] };

export const echoServiceImpl: ServiceImpl<typeof EchoService> = {
  async echo(request, context) {
    echoCalls.started++;
    if (request.behaviour === "not_found") throw notFound("echo", request.message);
    if (request.behaviour === "headers") {
      context.responseHeader.set("x-echo-header", request.message);
      context.responseTrailer.set("x-echo-trailer", request.message);
    }
    if (request.behaviour === "internal") throw new Error("database password is hunter2");
    if (request.behaviour === "sleep") await new Promise((resolve) => setTimeout(resolve, request.sleepMs));
    if (request.behaviour === "until_aborted") {
      const { signal } = context;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, request.sleepMs);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          echoCalls.abortReasons.push(signal.reason);
          resolve(undefined);
        });
      });
    }
    return { message: request.message, traceId: trace.getActiveSpan()?.spanContext().traceId ?? "" };
  },
  echoAuthenticated(request, context) {
    return { message: request.message, userId: requireUserId(context) };
  },
  echoOwner(request) {
    return { userId: request.userId };
  },
  echoAdmin(request) {
    return { message: request.message };
  },
  echoFromService(request, context) {
    const principal = principalOf(context);
    return { message: request.message, serviceName: principal?.kind === "service" ? principal.serviceName : "" };
  },
  async *echoStream(request, context) {
    for (let index = 0; index < request.count; index++) {
      if (index > 0) await new Promise((resolve) => setTimeout(resolve, request.intervalMs));
      if (context.signal.aborted) return;
      yield { message: request.message, index };
    }
  },
};

export { EchoService };
