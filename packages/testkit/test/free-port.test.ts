// Goal: prove findFreePort returns a port that can be bound right away on 127.0.0.1.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { findFreePort } from "../src/index.ts";

describe("findFreePort", () => {
  it("returns a port that a server can listen on", async () => {
    const port = await findFreePort();
    assert.ok(port > 0 && port < 65_536);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
