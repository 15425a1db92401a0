// The script a test page runs in the browser: it calls a Trustmesh server with
// @connectrpc/connect-web, as a web client would. The target (base URL and
// protocol) is a parameter of every call, so the same page can be pointed at the
// runtime's test EchoService or at a real service process. Results are plain
// JSON-safe objects because they cross back to Node through page.evaluate.
// esbuild bundles this file for the browser; Node never loads it.
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { BadRequestSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import { AuthService } from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";
import { EchoService } from "@trustmesh/api/trustmesh/testing/v1/echo_service_pb.js";

export type BrowserProtocol = "connect" | "grpc-web";

export interface Target {
  /** Where the server's Connect/gRPC-Web port answers, e.g. "http://127.0.0.1:8080". */
  baseUrl: string;
  protocol: BrowserProtocol;
  /** Bounds each call, so a server that never answers fails the call instead of hanging the page. */
  timeoutMs: number;
}

export interface CallFailure {
  code: Code;
  codeName: string;
  message: string;
  /** Field paths from google.rpc.BadRequest details, so a test can see which field was rejected. */
  fieldViolations: string[];
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: CallFailure };

export interface TrustmeshPage {
  echo(target: Target, message: string): Promise<Outcome<{ message: string }>>;
  echoAuthenticated(target: Target, message: string, accessToken?: string): Promise<Outcome<{ message: string; userId: string }>>;
  checkHealth(target: Target, service: string): Promise<Outcome<{ status: HealthCheckResponse_ServingStatus; statusName: string }>>;
  /** A real service's RPC: auth's published signing keys. */
  getJwks(target: Target): Promise<Outcome<{ keys: { kid: string; crv: string; alg: string }[] }>>;
}

/** How Node reaches this module's API inside the page. */
export interface PageGlobal {
  trustmeshPage: TrustmeshPage;
}

function createTransport(target: Target): Transport {
  // The Connect protocol uses JSON, as most web clients do; gRPC-Web is binary only.
  const options = { baseUrl: target.baseUrl, defaultTimeoutMs: target.timeoutMs };
  return target.protocol === "connect" ? createConnectTransport(options) : createGrpcWebTransport(options);
}

async function outcomeOf<T>(call: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (reason) {
    const error = ConnectError.from(reason);
    return {
      ok: false,
      error: {
        code: error.code,
        codeName: Code[error.code],
        message: error.rawMessage,
        fieldViolations: error
          .findDetails(BadRequestSchema)
          .flatMap((details) => details.fieldViolations.map((violation) => violation.field)),
      },
    };
  }
}

const trustmeshPage: TrustmeshPage = {
  echo(target, message) {
    const client = createClient(EchoService, createTransport(target));
    return outcomeOf(async () => {
      const response = await client.echo({ message });
      return { message: response.message };
    });
  },
  echoAuthenticated(target, message, accessToken) {
    const client = createClient(EchoService, createTransport(target));
    // A custom request header: the browser only sends it if the preflight allows it.
    const headers: Record<string, string> = accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` };
    return outcomeOf(async () => {
      const response = await client.echoAuthenticated({ message }, { headers });
      return { message: response.message, userId: response.userId };
    });
  },
  checkHealth(target, service) {
    const client = createClient(Health, createTransport(target));
    return outcomeOf(async () => {
      const response = await client.check({ service });
      return { status: response.status, statusName: HealthCheckResponse_ServingStatus[response.status] };
    });
  },
  getJwks(target) {
    const client = createClient(AuthService, createTransport(target));
    return outcomeOf(async () => {
      const response = await client.getJwks({});
      return { keys: response.keys.map(({ kid, crv, alg }) => ({ kid, crv, alg })) };
    });
  },
};

(globalThis as unknown as PageGlobal).trustmeshPage = trustmeshPage;
