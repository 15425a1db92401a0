// Goal: prove findFreePort returns a port that can be bound right away on
// 127.0.0.1, chosen where the kernel never picks ports by itself, so an
// outgoing connection cannot take it before the server binds it, and never a
// port it handed out before, since callers pick several before binding any.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { ephemeralPortLow } from "../src/free-port.ts";
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

  it("chooses ports below the kernel's ephemeral range, and different ones", async () => {
    const low = ephemeralPortLow();
    const ports = await Promise.all(Array.from({ length: 20 }, () => findFreePort()));
    for (const port of ports) assert.ok(port >= 10_000 && port < low, `port ${port} is not in [10000, ${low})`);
    assert.ok(new Set(ports).size > 15, `expected spread ports, got ${ports.join(", ")}`);
    // Asked for at once, too, no two callers get the same port.
    assert.equal(new Set(ports).size, ports.length, `a port handed out twice: ${ports.join(", ")}`);
  });

  it("never hands out the same port twice in one process, even unbound", async () => {
    // 400 random picks from some 22,000 ports repeat one with a probability of about 97%.
    const ports: number[] = [];
    for (let pick = 0; pick < 400; pick++) ports.push(await findFreePort());
    assert.equal(new Set(ports).size, ports.length);
  });
});
