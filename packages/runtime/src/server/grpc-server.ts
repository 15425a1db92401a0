// Serves Connect service implementations over gRPC with @grpc/grpc-js.
//
// Connect's own gRPC handler runs at about a sixth of grpc-js's throughput on
// Node (DESIGN.md §3), and gRPC is the internal hot path. So the same handler
// objects are served here through grpc-js, and each call runs through the same
// Connect interceptor stack via Connect's own invoke functions: one set of
// handlers, one set of interceptors, two transports.
//
// Unary and server-streaming RPCs are supported; Trustmesh contracts have no
// client-streaming or bidi RPCs (server reflection, which is bidi, is served by
// @grpc/reflection directly).

import { create, type DescMethod, type DescService, fromBinary, type Message, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextKey,
  type ContextValues,
  createContextKey,
  createContextValues,
  createServiceImplSpec,
  decodeBinaryHeader,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { createAsyncIterable, transformInvokeImplementation } from "@connectrpc/connect/protocol";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import * as grpc from "@grpc/grpc-js";
import { type CallWatcher, type EndableCall, endableCallKey } from "../call-scope.ts";
import { ipOfGrpcPeer, peerAddressKey } from "../context.ts";
import { type CallEnd, callEndKey, callNext, type EndListener } from "../rpc-status.ts";
import { callerTimeoutMs, DeferredHeaders, MetadataHeaders } from "./metadata-headers.ts";
import { addReflection } from "./reflection.ts";
import type { ServiceRegistration } from "./registration.ts";

export interface GrpcServerOptions {
  services: readonly ServiceRegistration[];
  interceptors: Interceptor[];
  /** Largest request or response message, in bytes. */
  messageBytesMax: number;
  /** Aborted when the process starts draining, so handlers can wrap up. */
  shutdownSignal: AbortSignal;
}

/** Headers that grpc-js manages itself and refuses in user metadata. */
const reservedTrailers = new Set(["grpc-status", "grpc-message", "content-type", "te"]);

function headersFromMetadata(metadata: grpc.Metadata, deadline: grpc.Deadline): Headers {
  return new MetadataHeaders(metadata, epochMsOf(deadline));
}

function epochMsOf(deadline: grpc.Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

function metadataFromHeaders(headers: Headers): grpc.Metadata {
  const metadata = new grpc.Metadata();
  headers.forEach((value, key) => {
    if (reservedTrailers.has(key)) return;
    if (key.endsWith("-bin")) {
      for (const part of value.split(/,\s*/)) metadata.add(key, Buffer.from(decodeBinaryHeader(part)));
    } else {
      metadata.add(key, value);
    }
  });
  return metadata;
}

function isEmpty(headers: Headers): boolean {
  if (headers instanceof DeferredHeaders) return headers.isEmpty();
  for (const _ of headers.keys()) return false;
  return true;
}

function toServiceError(reason: unknown, trailer: Headers): Partial<grpc.StatusObject> {
  const error = ConnectError.from(reason);
  // Connect's own encoder writes grpc-status-details-bin (google.rpc.Status
  // with the error details), exactly as Connect's gRPC handler would.
  const trailers = setTrailerStatus(new Headers(trailer), error);
  for (const [key, value] of error.metadata) trailers.set(key, value);
  return { code: error.code as number as grpc.status, details: error.rawMessage, metadata: metadataFromHeaders(trailers) };
}

/** One shared reason: building a ConnectError per cancelled call is measurable. */
const callerCancelled = new ConnectError("the caller cancelled", Code.Canceled);

/** A handler context the call can abort, as Connect's handlers hold it. */
type CallContext = HandlerContext & { abort(reason?: unknown): void };

/**
 * The handler context of one streaming call, built directly rather than with
 * Connect's createHandlerContext: that one copies the request headers, and
 * links a deadline timer and the server's shutdown signal to the context with
 * listeners that only an abort() removes. Streams, which can outlive a drain,
 * follow the shutdown signal.
 */
function createStreamContext(
  method: DescMethod,
  call: grpc.ServerWritableStream<unknown, unknown>,
  shutdownSignal: AbortSignal,
): CallContext {
  const controller = new AbortController();
  const deadlineAt = call.getDeadline();
  const deadlineAtMs = deadlineAt instanceof Date ? deadlineAt.getTime() : deadlineAt;
  const onShutdown = () => controller.abort(shutdownSignal.reason);
  shutdownSignal.addEventListener("abort", onShutdown, { once: true });
  controller.signal.addEventListener("abort", () => shutdownSignal.removeEventListener("abort", onShutdown), { once: true });
  const values = createContextValues();
  values.set(peerAddressKey, () => ipOfGrpcPeer(call.getPeer()));
  return {
    service: method.parent,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: `/${method.parent.typeName}/${method.name}`,
    signal: controller.signal,
    timeoutMs: () => (Number.isFinite(deadlineAtMs) ? deadlineAtMs - Date.now() : undefined),
    requestHeader: headersFromMetadata(call.metadata, deadlineAt),
    responseHeader: new Headers(),
    responseTrailer: new Headers(),
    values,
    abort: (reason) => controller.abort(reason),
  };
}

/**
 * Messages up to this size are copied into Node's shared buffer pool, as
 * Buffer.from does for small arrays; larger ones are wrapped, not copied.
 * A view on a small encoded message would cost more than the copy: V8 keeps
 * small typed arrays on its heap and must move their bytes to a fresh
 * off-heap ArrayBuffer the moment anything asks for `.buffer`, once per call.
 */
const pooledMessageBytesMax = Buffer.poolSize >>> 1;

function serializerFor<T extends Message>(schema: DescMethod["input"]) {
  return {
    serialize: (message: T) => {
      const bytes = toBinary(schema, message);
      return bytes.byteLength <= pooledMessageBytesMax ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (bytes: Buffer) => fromBinary(schema, bytes) as T,
  };
}

type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;
type UnaryStep = (request: UnaryRequest) => Promise<UnaryResponse>;

/** How the innermost step of a method's chain finds the call it serves. */
const unaryCallKey = createContextKey<UnaryCall | undefined>(undefined, { description: "trustmesh grpc-js unary call" });

/**
 * Context values as Connect's createContextValues keeps them (one property per
 * key), with the methods on a prototype: createContextValues makes three new
 * functions for every call.
 */
class CallValues implements ContextValues {
  get<T>(key: ContextKey<T>): T {
    const values = this as unknown as Record<symbol, T>;
    return key.id in values ? (values[key.id] as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this as unknown as Record<symbol, T>)[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete (this as unknown as Record<symbol, unknown>)[key.id];
    return this;
  }
}

/**
 * The request a unary call's interceptor chain starts from. Its signal is an
 * own property read on demand (most calls never make one), so copies of the
 * request (`{ ...request }`) still carry it. The getter is one function for
 * every request, defined on each: a getter written in an object literal is a
 * new function per request, and V8 then gives every request a hidden class of
 * its own, kept in the old generation, whose reference to the getter kept the
 * whole call, grpc-js's objects included, alive through scavenges until a full
 * collection (bench/rpc: scavenges four times as costly as bare grpc-js's).
 */
class CallRequest {
  readonly stream = false;
  readonly message: Message;
  readonly method: UnaryRequest["method"];
  readonly service: DescService;
  readonly requestMethod: string;
  readonly url: string;
  declare readonly signal: AbortSignal;
  readonly header: Headers;
  readonly contextValues: ContextValues;
  readonly #call: UnaryCall;

  constructor(call: UnaryCall, message: Message) {
    this.message = message;
    this.method = call.method as UnaryRequest["method"];
    this.service = call.service;
    this.requestMethod = call.requestMethod;
    this.url = call.url;
    this.header = call.requestHeader;
    this.contextValues = call.values;
    this.#call = call;
    Object.defineProperty(this, "signal", callRequestSignal);
  }

  static signalOf(request: CallRequest): AbortSignal {
    return request.#call.signal;
  }
}

const callRequestSignal: PropertyDescriptor = {
  enumerable: true,
  get(this: CallRequest) {
    return CallRequest.signalOf(this);
  },
};

/**
 * One unary call: its handler context, its answer to grpc-js, and the
 * capability to end it early. A class with the context's fields as its own
 * properties rather than Connect's createHandlerContext and
 * invokeUnaryImplementation, which per call copy the request headers, link
 * timers and the shutdown signal with listeners only an abort() removes, wrap
 * every interceptor again and add two async layers (bench/rpc measured each).
 * Here the deadline interceptor enforces deadlines, and a draining server lets
 * unary calls finish. Its abort signal is made the first time something asks
 * for it, as most calls never need one.
 */
class UnaryCall implements HandlerContext, EndableCall, CallEnd {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly url: string;
  readonly requestHeader: Headers;
  // Most calls never set a response header or trailer.
  readonly responseHeader: Headers = new DeferredHeaders();
  readonly responseTrailer: Headers = new DeferredHeaders();
  readonly values: ContextValues = new CallValues();
  #abortController: AbortController | undefined;
  /** The request the chain started from, to tell whether an interceptor replaced it. */
  #request: UnaryRequest | undefined;
  readonly #deadlineAtMs: number;
  readonly #call: grpc.ServerUnaryCall<Message, Message>;
  readonly #callback: grpc.sendUnaryData<Message>;
  #answered = false;
  /** Made with room for the server stack's listeners (tracing, metrics, logging): a push onto [] reserves 16 slots. */
  #endListeners: (EndListener | undefined)[] | undefined;
  #endListenerCount = 0;
  watcher: CallWatcher | undefined;

  constructor(method: DescMethod, url: string, call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) {
    this.service = method.parent;
    this.method = method;
    this.url = url;
    this.#deadlineAtMs = epochMsOf(call.getDeadline());
    this.requestHeader = new MetadataHeaders(call.metadata, this.#deadlineAtMs);
    this.#call = call;
    this.#callback = callback;
    this.values.set(unaryCallKey, this);
    // The deadline interceptor ends an overdue call through this: the handler's
    // signal aborts and the caller is answered now, whatever the handler does.
    this.values.set(endableCallKey, this);
    // Interceptors that observe how the call ended hear it from here (observeEnd).
    this.values.set(callEndKey, this);
    // A function, so calls whose handler never asks pay for no string work.
    this.values.set(peerAddressKey, () => ipOfGrpcPeer(call.getPeer()));
  }

  listen(listener: EndListener): void {
    const listeners = this.#endListeners;
    if (!listeners) {
      this.#endListeners = [listener, undefined, undefined, undefined];
      this.#endListenerCount = 1;
      return;
    }
    if (this.#endListenerCount < listeners.length) listeners[this.#endListenerCount] = listener;
    else listeners.push(listener);
    this.#endListenerCount++;
  }

  /** Marks the call answered and tells the listeners, innermost first, as promise layers would unwind. */
  #ended(error: unknown): void {
    this.#answered = true;
    this.watcher?.answered();
    const listeners = this.#endListeners;
    if (!listeners) return;
    this.#endListeners = undefined;
    for (let index = this.#endListenerCount - 1; index >= 0; index--) {
      try {
        listeners[index]?.(error);
      } catch (failure) {
        // An observer's bug must not keep the caller from its answer.
        process.emitWarning(`an RPC end listener failed: ${String(failure)}`);
      }
    }
  }

  #controller(): AbortController {
    if (this.#abortController) return this.#abortController;
    const controller = new AbortController();
    this.#abortController = controller;
    // Only a call whose signal someone holds needs to hear that its caller left.
    // grpc-js may report a cancel for a call that has already been answered.
    if (this.#call.cancelled) controller.abort(callerCancelled);
    else this.#call.on("cancelled", () => this.#answered || controller.abort(callerCancelled));
    return controller;
  }

  get signal(): AbortSignal {
    return this.#controller().signal;
  }

  timeoutMs(): number | undefined {
    return Number.isFinite(this.#deadlineAtMs) ? this.#deadlineAtMs - Date.now() : undefined;
  }

  callerTimeoutMs(): number | undefined {
    return callerTimeoutMs(this.#deadlineAtMs);
  }

  /** The request the interceptor chain starts from. */
  request(): UnaryRequest {
    this.#request = new CallRequest(this, this.#call.request);
    return this.#request;
  }

  /** The handler's context: this call, unless an interceptor replaced part of the request. */
  contextFor(request: UnaryRequest): HandlerContext {
    if (request === this.#request) return this;
    if (
      request.header === this.requestHeader &&
      request.signal === this.signal &&
      request.contextValues === this.values &&
      request.service === this.service
    ) {
      return this;
    }
    return {
      service: request.service,
      method: this.method,
      protocolName: this.protocolName,
      requestMethod: this.requestMethod,
      url: this.url,
      signal: request.signal,
      timeoutMs: () => this.timeoutMs(),
      requestHeader: request.header,
      responseHeader: this.responseHeader,
      responseTrailer: this.responseTrailer,
      values: request.contextValues,
    };
  }

  end(error: unknown): void {
    if (this.#answered) return;
    this.#controller().abort(error);
    this.fail(error);
  }

  readonly answer = (response: UnaryResponse): void => {
    if (this.#answered) return;
    this.#ended(undefined);
    if (!isEmpty(response.header)) this.#call.sendMetadata(metadataFromHeaders(response.header));
    // Unlike Connect's handlers, the signal is not aborted after a successful
    // answer: nothing listens by then, and aborting costs a DOMException and
    // an event per call.
    this.#callback(null, response.message, isEmpty(response.trailer) ? undefined : metadataFromHeaders(response.trailer));
  };

  readonly fail = (reason: unknown): void => {
    if (this.#answered) return;
    this.#ended(reason);
    this.#callback(toServiceError(reason, this.responseTrailer));
  };
}

/**
 * The innermost step of a method's chain: the handler itself, its answer
 * normalised to a full message as Connect's own handlers do.
 */
function implementationStep(spec: UnarySpec): UnaryStep {
  const output = spec.method.output;
  return (request) => {
    const call = request.contextValues.get(unaryCallKey);
    if (!call) return Promise.reject(new ConnectError("no grpc-js call in the context values", Code.Internal));
    const context = call.contextFor(request);
    const respond = (message: MessageInitShape<typeof output>): UnaryResponse => ({
      stream: false,
      message: create(output, message),
      method: spec.method as UnaryResponse["method"],
      service: call.service,
      header: call.responseHeader,
      trailer: call.responseTrailer,
    });
    let result: ReturnType<UnarySpec["impl"]>;
    try {
      result = spec.impl(request.message, context);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(respond);
  };
}

function unaryHandler(spec: UnarySpec, options: GrpcServerOptions): grpc.handleUnaryCall<Message, Message> {
  const url = `/${spec.method.parent.typeName}/${spec.method.name}`;
  // The chain is built once per method, not once per call as Connect's
  // invokeUnaryImplementation does: every interceptor here keeps its per-call
  // state inside the function it returns.
  const invoke = options.interceptors.reduceRight<UnaryStep>(
    (next, interceptor) => interceptor(next as Parameters<Interceptor>[0]) as UnaryStep,
    implementationStep(spec),
  );
  return (call, callback) => {
    const unary = new UnaryCall(spec.method, url, call, callback);
    callNext(invoke, unary.request()).then(unary.answer, unary.fail);
  };
}

function serverStreamingHandler(spec: MethodImplSpec, options: GrpcServerOptions): grpc.handleServerStreamingCall<Message, Message> {
  return (call) => {
    const context = createStreamContext(spec.method, call, options.shutdownSignal);
    call.on("cancelled", () => context.abort(callerCancelled));
    const invoke = transformInvokeImplementation(spec, context, options.interceptors);
    void (async () => {
      let headersSent = false;
      try {
        for await (const message of invoke(createAsyncIterable([call.request]))) {
          if (call.cancelled) break;
          if (!headersSent) {
            call.sendMetadata(metadataFromHeaders(context.responseHeader));
            headersSent = true;
          }
          // Respect back-pressure: a slow reader must not make us buffer without bound.
          if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
        }
        call.end(metadataFromHeaders(context.responseTrailer));
      } catch (reason) {
        call.emit("error", toServiceError(reason, context.responseTrailer));
      } finally {
        context.abort();
      }
    })();
  };
}

function addService(server: grpc.Server, registration: ServiceRegistration, options: GrpcServerOptions): void {
  const serviceSpec = createServiceImplSpec(registration.service, registration.impl);
  const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of registration.service.methods) {
    const spec = serviceSpec.methods[method.localName] as MethodImplSpec;
    const input = serializerFor(method.input);
    const output = serializerFor(method.output);
    if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") {
      throw new Error(`${method.parent.typeName}/${method.name}: ${method.methodKind} RPCs are not supported over grpc-js`);
    }
    definition[method.name] = {
      path: `/${registration.service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: method.methodKind === "server_streaming",
      requestSerialize: input.serialize,
      requestDeserialize: input.deserialize,
      responseSerialize: output.serialize,
      responseDeserialize: output.deserialize,
      originalName: method.localName,
    };
    handlers[method.name] = spec.kind === "unary" ? unaryHandler(spec, options) : serverStreamingHandler(spec, options);
  }
  server.addService(definition as grpc.ServiceDefinition, handlers);
}

export interface StartedGrpcServer {
  readonly port: number;
  /** Stops accepting calls and waits for in-flight ones up to graceMs, then cuts them off. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startGrpcServer(host: string, port: number, options: GrpcServerOptions): Promise<StartedGrpcServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.messageBytesMax,
    "grpc.max_send_message_length": options.messageBytesMax,
    "grpc.keepalive_permit_without_calls": 1,
    // Channelz (grpc-js's introspection service) is never served here, and
    // with it on every call pays for its counters, timestamps and closures.
    "grpc.enable_channelz": 0,
  });
  for (const registration of options.services) addService(server, registration, options);
  addReflection(server, options.services);
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    port: boundPort,
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
