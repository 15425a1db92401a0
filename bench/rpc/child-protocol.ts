// The few messages a benchmark server child and the harness exchange over the
// IPC channel: the child says where it listens, reports its counters and CPU
// time on request, profiles itself on request, and exits when told.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

export interface ServerPorts {
  grpcPort: number;
  httpPort?: number;
  adminPort?: number;
}

export type ChildMessage =
  | { type: "ready"; ports: ServerPorts }
  | { type: "stats"; okCount: number | undefined; cpuMicros: number }
  | { type: "profile-started" }
  | { type: "profile-written"; path: string }
  | { type: "failed"; message: string };

export type ParentMessage = { type: "stats" } | { type: "profile-start" } | { type: "profile-stop"; path: string } | { type: "stop" };

export interface ChildProtocolOptions {
  ports: ServerPorts;
  /** Calls answered OK, for servers that have no /metrics to scrape. */
  okCount?: () => number;
  stop: () => Promise<void>;
}

/** V8's default sampling interval for --cpu-prof, so profiles match what `node --cpu-prof` would record. */
const samplingIntervalMicros = 1000;

export function serveChildProtocol(options: ChildProtocolOptions): void {
  if (!process.send) throw new Error("a benchmark server must be started by bench/rpc/run.ts, with an IPC channel");
  const send = (message: ChildMessage) => process.send?.(message);
  // The same sampler as --cpu-prof, but started and stopped around the
  // measured run only, so start-up and warm-up do not blur the picture.
  let profiler: Session | undefined;
  const handle = async (message: ParentMessage) => {
    if (message.type === "stats") {
      const { user, system } = process.cpuUsage();
      send({ type: "stats", okCount: options.okCount?.(), cpuMicros: user + system });
    } else if (message.type === "profile-start") {
      profiler = new Session();
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.setSamplingInterval", { interval: samplingIntervalMicros });
      await profiler.post("Profiler.start");
      send({ type: "profile-started" });
    } else if (message.type === "profile-stop") {
      if (!profiler) throw new Error("profile-stop without profile-start");
      const { profile } = await profiler.post("Profiler.stop");
      profiler.disconnect();
      profiler = undefined;
      writeFileSync(message.path, JSON.stringify(profile));
      send({ type: "profile-written", path: message.path });
    } else if (message.type === "stop") {
      // A server that will not stop must not hang the benchmark.
      setTimeout(() => process.exit(1), 5000).unref();
      await options.stop();
      process.exit(0);
    }
  };
  process.on("message", (message: ParentMessage) => {
    handle(message).catch((error: unknown) => send({ type: "failed", message: String(error) }));
  });
  // The harness going away (Ctrl-C, crash) takes the server with it.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", ports: options.ports });
}
