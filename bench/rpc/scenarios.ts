// The five measurements, each a server to start, a request h2load repeats, and
// a check that one such request really succeeds end to end.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  EchoAuthenticatedRequestSchema,
  EchoAuthenticatedResponseSchema,
  EchoRequestSchema,
  EchoResponseSchema,
} from "@trustmesh/api/trustmesh/testing/v1/echo_service_pb.js";
import { serviceV8PoolArgument } from "../../packages/runtime/src/node-arguments.ts";
import { serviceV8Flags } from "../../packages/runtime/src/v8-flags.ts";
import type { ServerPorts } from "./child-protocol.ts";
import { encodeGrpcFrame } from "./grpc-frame.ts";
import { callGrpc, callHttp1 } from "./verify-call.ts";

export type ScenarioId = "bare-grpc" | "bare-grpc-v8-flags" | "runtime-grpc" | "runtime-grpc-auth" | "runtime-connect-h1";

export interface Scenario {
  id: ScenarioId;
  title: string;
  server: "bare" | "runtime";
  /** Node flags for the server process besides the ones its kind always gets. */
  nodeFlags?: readonly string[];
  http1: boolean;
  /** Method name as rpc_server_requests_total labels it. */
  method: string;
  bodyPath: string;
  headers: Record<string, string>;
  url(ports: ServerPorts): string;
  /** Throws unless one request, sent as h2load will send it, succeeds. */
  verify(ports: ServerPorts): Promise<void>;
}

export const echoServiceName = "trustmesh.testing.v1.EchoService";
/** Short, like most internal calls; the message size is not what is measured. */
const echoText = "hello, trustmesh";
export const benchUserId = "user-bench";

const grpcHeaders = { "content-type": "application/grpc", te: "trailers" };

function writeBody(directory: string, name: string, body: Buffer): string {
  const bodyPath = path.join(directory, name);
  writeFileSync(bodyPath, body);
  return bodyPath;
}

export function createScenarios(workDirectory: string, bearerToken: string): Scenario[] {
  // The checks send the very bytes h2load sends.
  const echoGrpc = encodeGrpcFrame(toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: echoText })));
  const authenticatedGrpc = encodeGrpcFrame(
    toBinary(EchoAuthenticatedRequestSchema, create(EchoAuthenticatedRequestSchema, { message: echoText })),
  );
  // JSON, the Connect codec browsers use by default (connect-web's useBinaryFormat is off).
  const echoJson = Buffer.from(toJsonString(EchoRequestSchema, create(EchoRequestSchema, { message: echoText })));
  const echoGrpcBody = writeBody(workDirectory, "echo.grpc.bin", echoGrpc);
  const authenticatedGrpcBody = writeBody(workDirectory, "echo-authenticated.grpc.bin", authenticatedGrpc);
  const echoJsonBody = writeBody(workDirectory, "echo.connect.json", echoJson);

  const echoPath = `/${echoServiceName}/Echo`;
  const authenticatedPath = `/${echoServiceName}/EchoAuthenticated`;
  const authenticatedHeaders = { ...grpcHeaders, authorization: `Bearer ${bearerToken}` };
  const connectHeaders = { "content-type": "application/json", "connect-protocol-version": "1" };

  const verifyGrpcEcho = async (ports: ServerPorts) => {
    const url = `http://127.0.0.1:${ports.grpcPort}${echoPath}`;
    const answer = await callGrpc(url, echoGrpc, grpcHeaders, EchoResponseSchema);
    assert.equal(answer.grpcStatus, "0", `Echo answered grpc-status ${answer.grpcStatus}: ${answer.grpcMessage}`);
    assert.equal(answer.message?.message, echoText, "Echo did not echo");
  };
  /** Echo over gRPC, as scenarios 1–3 send it. */
  const grpcEcho = {
    http1: false,
    method: "Echo",
    bodyPath: echoGrpcBody,
    headers: grpcHeaders,
    url: (ports: ServerPorts) => `http://127.0.0.1:${ports.grpcPort}${echoPath}`,
    verify: verifyGrpcEcho,
  };

  return [
    {
      id: "bare-grpc",
      title: "bare @grpc/grpc-js, unary echo",
      server: "bare",
      ...grpcEcho,
    },
    {
      // The runtime sets V8 flags in every service process (its v8-flags.ts)
      // and sizes V8's thread pool (its node-arguments.ts); this row says how
      // much of the runtime's share those settings alone explain.
      id: "bare-grpc-v8-flags",
      title: "bare @grpc/grpc-js, unary echo, with the services' V8 flags and thread pool",
      server: "bare",
      nodeFlags: [...serviceV8Flags, serviceV8PoolArgument],
      ...grpcEcho,
    },
    {
      id: "runtime-grpc",
      title: "runtime gRPC port, Echo (unauthenticated)",
      server: "runtime",
      ...grpcEcho,
    },
    {
      id: "runtime-grpc-auth",
      title: "runtime gRPC port, EchoAuthenticated (EdDSA bearer)",
      server: "runtime",
      http1: false,
      method: "EchoAuthenticated",
      bodyPath: authenticatedGrpcBody,
      headers: authenticatedHeaders,
      url: (ports) => `http://127.0.0.1:${ports.grpcPort}${authenticatedPath}`,
      async verify(ports) {
        const url = `http://127.0.0.1:${ports.grpcPort}${authenticatedPath}`;
        // Without the token the call must fail, or this scenario measures no authentication at all.
        const anonymous = await callGrpc(url, authenticatedGrpc, grpcHeaders, EchoAuthenticatedResponseSchema);
        assert.equal(
          anonymous.grpcStatus,
          "16",
          `EchoAuthenticated without a token answered grpc-status ${anonymous.grpcStatus}, not UNAUTHENTICATED`,
        );
        const answer = await callGrpc(url, authenticatedGrpc, authenticatedHeaders, EchoAuthenticatedResponseSchema);
        assert.equal(answer.grpcStatus, "0", `EchoAuthenticated answered grpc-status ${answer.grpcStatus}: ${answer.grpcMessage}`);
        assert.equal(answer.message?.message, echoText, "EchoAuthenticated did not echo");
        assert.equal(answer.message?.userId, benchUserId, "EchoAuthenticated did not resolve the token's user");
      },
    },
    {
      id: "runtime-connect-h1",
      title: "runtime HTTP port, Connect JSON over HTTP/1.1, Echo",
      server: "runtime",
      http1: true,
      method: "Echo",
      bodyPath: echoJsonBody,
      headers: connectHeaders,
      url: (ports) => `http://127.0.0.1:${ports.httpPort}${echoPath}`,
      async verify(ports) {
        const answer = await callHttp1(`http://127.0.0.1:${ports.httpPort}${echoPath}`, echoJson, connectHeaders);
        assert.equal(answer.status, 200, `Connect Echo answered HTTP ${answer.status}: ${answer.body}`);
        assert.match(answer.contentType ?? "", /^application\/json/, "Connect Echo did not answer JSON");
        assert.equal((JSON.parse(answer.body) as { message?: string }).message, echoText, "Connect Echo did not echo");
      },
    },
  ];
}
