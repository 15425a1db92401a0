// Goal: an exhausted database pool is overload, not a bug. When a real
// pg.Pool has no connection to give within its connectionTimeoutMillis, the
// error-mapping interceptor answers UNAVAILABLE with reason DATABASE_BUSY (the
// client may retry with the same idempotency key), while any other unexpected
// error stays INTERNAL and keeps its message out of the response.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { Code } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import pg from "pg";
import { isDatabasePoolExhausted, toConnectError } from "../src/interceptors/error-mapping.ts";
import { createLogger } from "../src/logger.ts";

const logger = createLogger({ name: "error-mapping-test", level: "silent" });

describe("error mapping", () => {
  let silent: Server;
  const sockets: Socket[] = [];
  let port: number;

  before(async () => {
    // A server that accepts connections and never answers: the pool's one connection never finishes starting.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    port = (silent.address() as { port: number }).port;
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it("answers UNAVAILABLE / DATABASE_BUSY when no pooled connection comes free in time", async () => {
    const pool = new pg.Pool({ host: "127.0.0.1", port, user: "nobody", max: 1, connectionTimeoutMillis: 200 });
    pool.on("error", () => {});
    // The first checkout holds the only slot while it tries to connect; the second waits in the queue and times out.
    const first = pool.connect().catch((error: unknown) => error);
    const second = await pool.connect().catch((error: unknown) => error);
    await first;
    await pool.end().catch(() => {});
    assert.ok(isDatabasePoolExhausted(second), String(second));
    // Wrapped by an ORM or driver, it is still recognised.
    const wrapped = new Error("transaction failed", { cause: second });
    for (const error of [second, wrapped]) {
      const mapped = toConnectError(error, "trustmesh.test", logger);
      assert.equal(Code[mapped.code], Code[Code.Unavailable]);
      assert.equal(mapped.findDetails(ErrorInfoSchema)[0]?.reason, "DATABASE_BUSY");
    }
  });

  it("keeps other unexpected errors INTERNAL without their message", () => {
    const mapped = toConnectError(new Error('relation "secret_table" does not exist'), "trustmesh.test", logger);
    assert.equal(Code[mapped.code], Code[Code.Internal]);
    assert.ok(!mapped.message.includes("secret_table"));
    assert.equal(isDatabasePoolExhausted("timeout exceeded when trying to connect"), false, "only errors count, not strings");
  });
});
