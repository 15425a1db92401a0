// The admin port: /metrics for Prometheus, /healthz (the process is alive) for
// liveness and /readyz (dependencies reachable, not draining) for readiness.
// It is separate from the API ports so it is never exposed through ingress.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { HealthState } from "../health.ts";
import type { RpcMetrics } from "../metrics.ts";

export interface StartedAdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(host: string, port: number, metrics: RpcMetrics, health: HealthState): Promise<StartedAdminServer> {
  const server = http.createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://admin").pathname;
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      metrics.registry.metrics().then(
        (body) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
        () => response.writeHead(500).end("metrics unavailable\n"),
      );
    } else if (path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const failing = health.failingChecks();
      if (health.isServing()) response.writeHead(200, { "content-type": "text/plain" }).end("ready\n");
      else
        response.writeHead(503, { "content-type": "text/plain" }).end(`not ready: ${failing.length ? failing.join(", ") : "draining"}\n`);
    } else {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  server.keepAliveTimeout = 65_000; // Longer than Prometheus' scrape interval, so connections are reused.
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
