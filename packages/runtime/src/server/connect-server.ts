// Serves the Connect protocol and gRPC-Web (and gRPC, though internal callers
// use the grpc-js port) for browsers and curl, over HTTP/1.1 and cleartext
// HTTP/2 on one port. Browsers need CORS for the configured origins.
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { cors as connectCors, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import cors from "cors";
import { peerAddressKey } from "../context.ts";
import type { Logger } from "../logger.ts";
import { type HttpRoute, serveHttpRoute } from "./http-routes.ts";
import type { ServiceRegistration } from "./registration.ts";

export interface ConnectServerOptions {
  services: readonly ServiceRegistration[];
  interceptors: Interceptor[];
  corsAllowedOrigins: readonly string[];
  messageBytesMax: number;
  maxTimeoutMs: number;
  shutdownSignal: AbortSignal;
  /** GET routes answered before Connect sees the request (see http-routes.ts). */
  httpRoutes?: readonly HttpRoute[];
  logger: Logger;
}

export interface StartedConnectServer {
  readonly port: number;
  shutdown(graceMs: number): Promise<void>;
}

/** The HTTP/2 connection preface; cleartext HTTP/2 clients send it first. */
const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export async function startConnectServer(host: string, port: number, options: ConnectServerOptions): Promise<StartedConnectServer> {
  const handler = connectNodeAdapter({
    routes(router) {
      for (const { service, impl } of options.services) router.service(service, impl);
    },
    interceptors: options.interceptors,
    readMaxBytes: options.messageBytesMax,
    writeMaxBytes: options.messageBytesMax,
    maxTimeoutMs: options.maxTimeoutMs,
    shutdownSignal: options.shutdownSignal,
    contextValues(request) {
      const values = createContextValues();
      values.set(peerAddressKey, () => request.socket?.remoteAddress ?? "");
      return values;
    },
  });
  const corsHandler = cors({
    origin: [...options.corsAllowedOrigins],
    methods: [...connectCors.allowedMethods],
    allowedHeaders: [...connectCors.allowedHeaders, "Authorization"],
    exposedHeaders: [...connectCors.exposedHeaders],
    // Browsers may cache a preflight for two hours (Chromium's ceiling).
    maxAge: 7200,
  });
  type Request = http.IncomingMessage | http2.Http2ServerRequest;
  type Response = http.ServerResponse | http2.Http2ServerResponse;
  const httpRoutes = options.httpRoutes ?? [];
  const listener = (request: Request, response: Response) => {
    corsHandler(request as http.IncomingMessage, response as http.ServerResponse, () => {
      if (!serveHttpRoute(httpRoutes, request, response, options.logger)) handler(request, response);
    });
  };
  const http1Server = http.createServer(listener);
  // HTTP/1.1 sockets with a request in flight. Connections are handed to the
  // server by hand (below), so its own closeIdleConnections() does not see
  // them; we track busy ones so a drain can close the idle ones at once and the
  // busy ones right after their response.
  const http1Sockets = new Set<net.Socket>();
  const busySockets = new Set<net.Socket>();
  let draining = false;
  http1Server.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
    const socket = request.socket;
    busySockets.add(socket);
    response.once("close", () => {
      busySockets.delete(socket);
      if (draining) socket.end();
    });
  });
  const http2Server = http2.createServer({}, listener);

  // One port for both: peek at the first bytes of each connection and hand it
  // to the HTTP/2 server when they are the HTTP/2 preface.
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      http1Sockets.delete(socket);
    });
    socket.once("readable", () => {
      const head: Buffer | null = socket.read(http2Preface.length) ?? socket.read();
      if (head === null) return socket.destroy();
      socket.unshift(head);
      const target = head.subarray(0, http2Preface.length).equals(http2Preface.subarray(0, head.length)) ? http2Server : http1Server;
      if (target === http1Server) http1Sockets.add(socket);
      target.emit("connection", socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  http2Server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    async shutdown(graceMs) {
      server.close();
      // GOAWAY lets HTTP/2 clients finish their streams and open none.
      for (const session of sessions) session.close();
      // HTTP/1.1 connections close now when idle, else as soon as their response is done.
      draining = true;
      for (const socket of http1Sockets) if (!busySockets.has(socket)) socket.end();
      const giveUpAt = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < giveUpAt) await new Promise((resolve) => setTimeout(resolve, 25));
      for (const socket of sockets) socket.destroy();
    },
  };
}
