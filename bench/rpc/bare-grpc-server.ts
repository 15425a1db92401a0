// Child process: the baseline, a minimal @grpc/grpc-js server with one unary
// echo method at the same path and with the same messages as
// trustmesh.testing.v1.EchoService/Echo, and nothing else: no interceptors,
// no telemetry, no metrics, no logging. It encodes with the same generated
// protobuf-es schemas as the runtime, so the comparison measures the runtime's
// stack and not a different codec.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type EchoRequest,
  EchoRequestSchema,
  type EchoResponse,
  EchoResponseSchema,
} from "@trustmesh/api/trustmesh/testing/v1/echo_service_pb.js";
import { serveChildProtocol } from "./child-protocol.ts";

// Counted so the harness can prove every call h2load saw succeed was really
// answered OK; one integer increment is noise next to a call.
let okCount = 0;

const echoDefinition: grpc.ServiceDefinition = {
  Echo: {
    path: "/trustmesh.testing.v1.EchoService/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: (message: EchoRequest) => Buffer.from(toBinary(EchoRequestSchema, message)),
    requestDeserialize: (bytes: Buffer) => fromBinary(EchoRequestSchema, bytes),
    responseSerialize: (message: EchoResponse) => Buffer.from(toBinary(EchoResponseSchema, message)),
    responseDeserialize: (bytes: Buffer) => fromBinary(EchoResponseSchema, bytes),
  },
};

const echo: grpc.handleUnaryCall<EchoRequest, EchoResponse> = (call, callback) => {
  okCount++;
  callback(null, create(EchoResponseSchema, { message: call.request.message }));
};

const server = new grpc.Server();
server.addService(echoDefinition, { Echo: echo });
const grpcPort = await new Promise<number>((resolve, reject) => {
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
});

serveChildProtocol({
  ports: { grpcPort },
  okCount: () => okCount,
  stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
});
