// Sends one request with exactly the bytes and headers h2load will send, and
// checks the answer in full (status, grpc-status trailer, decoded message).
// h2load only sees HTTP status codes, and gRPC errors travel as HTTP 200, so
// without this a storm of UNAUTHENTICATED answers would pass for throughput.
import * as http from "node:http";
import * as http2 from "node:http2";
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { decodeSingleGrpcFrame } from "./grpc-frame.ts";

export interface GrpcAnswer<T> {
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
  message: T | undefined;
}

const callTimeoutMs = 5000;

/** One gRPC call over HTTP/2, with h2load's body and headers. */
export function callGrpc<T extends DescMessage>(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
  responseSchema: T,
): Promise<GrpcAnswer<MessageShape<T>>> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const session = http2.connect(target.origin);
    session.on("error", reject);
    session.setTimeout(callTimeoutMs, () => {
      session.destroy();
      reject(new Error(`no gRPC answer from ${url} within ${callTimeoutMs} ms`));
    });
    const stream = session.request({ ":method": "POST", ":path": target.pathname, ...headers });
    const chunks: Buffer[] = [];
    let httpStatus = 0;
    let grpcStatus: string | undefined;
    let grpcMessage: string | undefined;
    stream.on("response", (responseHeaders) => {
      httpStatus = Number(responseHeaders[":status"]);
      // A trailers-only answer (every error) puts grpc-status in the headers.
      grpcStatus = responseHeaders["grpc-status"] as string | undefined;
      grpcMessage = responseHeaders["grpc-message"] as string | undefined;
    });
    stream.on("trailers", (trailers) => {
      grpcStatus = (trailers["grpc-status"] as string | undefined) ?? grpcStatus;
      grpcMessage = (trailers["grpc-message"] as string | undefined) ?? grpcMessage;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", reject);
    stream.on("end", () => {
      session.close();
      if (httpStatus !== 200) return reject(new Error(`gRPC call to ${url} answered HTTP ${httpStatus}`));
      const responseBody = Buffer.concat(chunks);
      try {
        const message = responseBody.length > 0 ? fromBinary(responseSchema, decodeSingleGrpcFrame(responseBody)) : undefined;
        resolve({ grpcStatus, grpcMessage, message });
      } catch (error) {
        reject(error);
      }
    });
    stream.end(body);
  });
}

export interface HttpAnswer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** One HTTP/1.1 POST, as h2load --h1 sends it. */
export function callHttp1(url: string, body: Buffer, headers: Record<string, string>): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: "POST", headers: { ...headers, "content-length": body.length }, timeout: callTimeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: response.headers["content-type"],
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no HTTP answer from ${url} within ${callTimeoutMs} ms`)));
    request.on("error", reject);
    request.end(body);
  });
}
