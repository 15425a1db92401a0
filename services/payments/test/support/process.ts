// The payments process as production runs it (`node --import
// @trustmesh/runtime/telemetry src/main.ts`), with the auth and ledger doubles
// served over real HTTP/2 gRPC from the test process, so a test can SIGKILL
// payments mid-run while the doubles keep their state.
import { type ChildProcess, spawn } from "node:child_process";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AuthService, LedgerService } from "@trustmesh/api";
import { serviceNodeArguments } from "@trustmesh/runtime";
import { findFreePort } from "@trustmesh/testkit";
import type { AuthDouble } from "./auth-double.ts";
import type { LedgerDouble } from "./ledger-double.ts";

export interface DoublesServer {
  url: string;
  close(): Promise<void>;
}

export async function serveDoubles(auth: AuthDouble, ledger: LedgerDouble): Promise<DoublesServer> {
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(AuthService, auth.impl);
      router.service(LedgerService, ledger.impl);
    },
  });
  const server = http2.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open client sessions would keep close() waiting.
        setTimeout(resolve, 1000).unref();
      }),
  };
}

export interface PaymentsProcess {
  grpcUrl: string;
  adminUrl: string;
  /** Everything the process printed, across restarts. */
  logs(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and waits until it is ready. */
  restart(): Promise<void>;
}

export async function startPaymentsProcess(env: Record<string, string>): Promise<PaymentsProcess> {
  const ports = { grpc: await findFreePort(), http: await findFreePort(), admin: await findFreePort() };
  let output = "";
  let child: ChildProcess;
  const adminUrl = `http://127.0.0.1:${ports.admin}`;
  const launch = async () => {
    child = spawn(process.execPath, [...serviceNodeArguments, "src/main.ts"], {
      cwd: new URL("../..", import.meta.url).pathname,
      env: {
        ...process.env,
        HOST: "127.0.0.1",
        GRPC_PORT: String(ports.grpc),
        HTTP_PORT: String(ports.http),
        ADMIN_PORT: String(ports.admin),
        OTEL_SERVICE_NAME: "payments",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    for (const giveUpAt = Date.now() + 60_000; ; ) {
      if (child.exitCode !== null) throw new Error(`payments exited before it was ready:\n${output.slice(-4000)}`);
      const ready = await fetch(`${adminUrl}/readyz`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
      if (Date.now() > giveUpAt) throw new Error(`payments was not ready in time:\n${output.slice(-4000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await launch();
  return {
    grpcUrl: `http://127.0.0.1:${ports.grpc}`,
    adminUrl,
    logs: () => output,
    kill: (signal) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill(signal);
      }),
    restart: launch,
  };
}
