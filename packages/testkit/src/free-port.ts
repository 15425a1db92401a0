import { createServer } from "node:net";

/**
 * Asks the kernel for a port that is free on `host` right now.
 *
 * The port is released before it is returned, so another process can take it before
 * our server binds it; callers that start servers retry with a new port when the
 * server reports "address already in use" (see startPostgres and startRedis).
 */
export function findFreePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error(`could not read the port bound on ${host}`));
        return;
      }
      server.close((error) => (error ? reject(error) : resolve(address.port)));
    });
  });
}
