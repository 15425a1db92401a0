// Goal: on the grpc-js port every interceptor that observes how a unary call
// ended (observeEnd) hears it exactly once, innermost first, with the outcome
// the caller got, however many observe it (the call keeps room for a few
// listeners and grows beyond them).
import assert from "node:assert/strict";
import { Code, type Interceptor } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import { createLogger } from "../src/index.ts";
import { createErrorMappingInterceptor } from "../src/interceptors/error-mapping.ts";
import { codeOf, observeEnd } from "../src/rpc-status.ts";
import { startEchoGrpcPort } from "./support/echo-server.ts";
import { EchoService, echoServiceImpl } from "./support/echo-service.ts";

const echo = EchoService.method.echo;

/** What each observer heard, in the order heard: its number and the code the call ended with. */
const heard: { observer: number; code: Code | "OK" }[] = [];

function observer(number: number): Interceptor {
  return (next) => (request) =>
    observeEnd(next, request, (error) => heard.push({ observer: number, code: error === undefined ? "OK" : codeOf(error) })) as ReturnType<
      typeof next
    >;
}

describe("end listeners of a grpc-js call", () => {
  for (const count of [3, 6]) {
    describe(`with ${count} observing interceptors`, () => {
      let client: grpc.Client;
      let stop: () => Promise<void>;
      const numbers = Array.from({ length: count }, (_, index) => index + 1);

      before(async () => {
        // Error mapping innermost, as in the server stack, so a domain error reaches the caller with its code.
        const errorMapping = createErrorMappingInterceptor({
          domain: "echo.trustmesh.dev",
          logger: createLogger({ name: "echo", level: "silent" }),
        });
        ({ client, stop } = await startEchoGrpcPort(echoServiceImpl, [...numbers.map(observer), errorMapping]));
      });

      after(() => stop());

      it("tells each once, innermost first, that the call succeeded", async () => {
        heard.length = 0;
        assert.equal((await grpcJsUnary(client, echo, { message: "hello" })).message, "hello");
        assert.deepEqual(
          heard,
          numbers.toReversed().map((observer) => ({ observer, code: "OK" })),
        );
      });

      it("tells each once, innermost first, the code a failed call got", async () => {
        heard.length = 0;
        await assert.rejects(grpcJsUnary(client, echo, { message: "missing", behaviour: "not_found" }));
        assert.deepEqual(
          heard,
          numbers.toReversed().map((observer) => ({ observer, code: Code.NotFound })),
        );
      });
    });
  }
});
