import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Where the kernel's ephemeral ports start when /proc does not say (Linux's default). */
const defaultEphemeralLow = 32_768;
/** Lowest port handed out: above the well-known and most registered services' ports. */
const lowestPort = 10_000;
const attempts = 50;

/**
 * The first port the kernel may pick by itself: for `listen(0)` and for the
 * local end of every outgoing connection (Linux: net.ipv4.ip_local_port_range).
 */
export function ephemeralPortLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : defaultEphemeralLow;
  } catch {
    return defaultEphemeralLow;
  }
}

function listensOn(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (error: NodeJS.ErrnoException) =>
      error.code === "EADDRINUSE" || error.code === "EACCES" ? resolve(undefined) : reject(error),
    );
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = address !== null && typeof address !== "string" ? address.port : undefined;
      server.close((error) => (error ? reject(error) : resolve(bound)));
    });
  });
}

/**
 * Ports this process has handed out. startServices picks every service's
 * three ports before any service binds one, so a random pick could repeat an
 * earlier, still unbound one (about a 1% chance for eighteen picks) and one
 * service would fail with "address already in use"; a CI run did.
 */
const handedOut = new Set<number>();

/**
 * A port that is free on `host` right now, for a server the caller starts next,
 * and never one this process was given before.
 *
 * It is released before it is returned, so it is chosen below the kernel's
 * ephemeral range: a port the kernel picked itself (`listen(0)`) could be
 * given to the local end of any outgoing connection in the meantime — a
 * service's own database connections included — and the server would then
 * fail with "address already in use". Below that range only a process naming
 * the same number can take it; callers that start servers still retry with a
 * new port when that happens (see startPostgres and startRedis).
 */
export async function findFreePort(host = "127.0.0.1"): Promise<number> {
  const high = ephemeralPortLow();
  // A kernel whose ephemeral range starts at or below lowestPort leaves no such range.
  for (let attempt = 0; high > lowestPort && attempt < attempts; attempt++) {
    const candidate = lowestPort + Math.floor(Math.random() * (high - lowestPort));
    if (handedOut.has(candidate)) continue;
    // Reserved before the bind is tried, so calls running at once never try the same one.
    handedOut.add(candidate);
    if ((await listensOn(host, candidate)) !== undefined) return candidate;
    handedOut.delete(candidate);
  }
  // No range below the ephemeral one, or it is crowded: fall back to a port the kernel picks.
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = await listensOn(host, 0);
    if (port === undefined) break;
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`could not bind a port on ${host} that was not handed out already`);
}
