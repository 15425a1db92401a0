// Child process: the real runtime server (gRPC via grpc-js, Connect and admin
// ports, the whole interceptor stack) around EchoService, configured as a
// deployed service runs: OpenTelemetry SDK started before anything else by
// `node --import @trustmesh/runtime/telemetry` (measure.ts starts it so) with
// its default sampler and no exporter, and logs at info.
import { shutdownTelemetry } from "../../packages/runtime/src/index.ts";
import { startEchoServer } from "../../packages/runtime/test/support/echo-server.ts";
import { serveChildProtocol } from "./child-protocol.ts";

const jwksUrl = process.env.BENCH_JWKS_URL;
if (!jwksUrl) throw new Error("BENCH_JWKS_URL must name the JWKS the harness serves");

const server = await startEchoServer({ jwksUrl, logLevel: "info" });

serveChildProtocol({
  ports: { grpcPort: server.grpcPort, httpPort: server.httpPort, adminPort: server.adminPort },
  async stop() {
    await server.shutdown(1000);
    await shutdownTelemetry();
  },
});
