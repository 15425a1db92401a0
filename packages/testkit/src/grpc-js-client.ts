// Calls any Trustmesh RPC with plain @grpc/grpc-js — the client most internal
// callers use — rather than a Connect client, so tests prove the gRPC port
// speaks standard gRPC.

import {
  create,
  type DescMessage,
  type DescMethod,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

export interface GrpcJsError extends Error {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

export interface GrpcJsCallOptions {
  metadata?: Record<string, string>;
  timeoutMs?: number;
}

function metadataOf(values: Record<string, string> = {}): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(values)) metadata.set(key, value);
  return metadata;
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function codecs<I extends DescMessage, O extends DescMessage>(input: I, output: O) {
  return {
    serialize: (message: MessageShape<I>) => Buffer.from(toBinary(input, message)),
    deserialize: (bytes: Buffer) => fromBinary(output, bytes),
  };
}

export function createGrpcJsClient(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure());
}

export function grpcJsUnary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethod & { input: I; output: O },
  request: MessageInitShape<I>,
  options: GrpcJsCallOptions = {},
): Promise<MessageShape<O>> {
  const { serialize, deserialize } = codecs(method.input, method.output);
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      pathOf(method),
      serialize,
      deserialize,
      create(method.input, request),
      metadataOf(options.metadata),
      { deadline },
      (error, response) => (error ? reject(error) : resolve(response as MessageShape<O>)),
    );
  });
}

/** Collects every message of a server stream, or the first `limit`, then cancels. */
export function grpcJsServerStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethod & { input: I; output: O },
  request: MessageInitShape<I>,
  options: GrpcJsCallOptions & { limit?: number; onMessage?: (message: MessageShape<O>) => void } = {},
): Promise<MessageShape<O>[]> {
  const { serialize, deserialize } = codecs(method.input, method.output);
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  return new Promise((resolve, reject) => {
    const received: MessageShape<O>[] = [];
    const call = client.makeServerStreamRequest(
      pathOf(method),
      serialize,
      deserialize,
      create(method.input, request),
      metadataOf(options.metadata),
      {
        deadline,
      },
    );
    call.on("data", (message: MessageShape<O>) => {
      received.push(message);
      options.onMessage?.(message);
      if (options.limit !== undefined && received.length >= options.limit) {
        call.cancel();
        resolve(received);
      }
    });
    call.on("error", (error: GrpcJsError) => (error.code === grpc.status.CANCELLED ? resolve(received) : reject(error)));
    call.on("end", () => resolve(received));
  });
}
