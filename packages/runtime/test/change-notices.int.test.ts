// Goal: a change notice published through one Redis connection (one replica)
// reaches the listeners subscribed through another (a second replica), only for
// the record it names and only under the same channel prefix; a listener that
// unsubscribed hears nothing more, while another listener on the same record
// keeps hearing.
import assert from "node:assert/strict";
import { type RedisServer, startRedis } from "@trustmesh/testkit";
import { Redis } from "ioredis";
import { type ChangeNotices, createChangeNotices, createLogger } from "../src/index.ts";

const logger = createLogger({ name: "change-notices-test", level: "silent" });
const settleMs = 200;

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("createChangeNotices", function () {
  this.timeout(30_000);
  let redis: RedisServer;
  const connections: Redis[] = [];
  const notices: ChangeNotices[] = [];

  before(async () => {
    redis = await startRedis();
  });

  after(async () => {
    await Promise.all(notices.map((each) => each.close()));
    for (const connection of connections) connection.disconnect();
    await redis?.stop();
  });

  function replica(channelPrefix: string): ChangeNotices {
    const connection = new Redis(redis.url);
    connections.push(connection);
    const created = createChangeNotices(connection, logger, { channelPrefix, name: "test-notices" });
    notices.push(created);
    return created;
  }

  it("delivers a notice across replicas to the record's listeners until they unsubscribe", async () => {
    const publisher = replica("things:thing:");
    const watcher = replica("things:thing:");
    const otherService = replica("others:thing:");
    let first = 0;
    let second = 0;
    let otherRecord = 0;
    let otherPrefix = 0;
    const stopFirst = watcher.subscribe("a", () => first++);
    watcher.subscribe("a", () => second++);
    watcher.subscribe("b", () => otherRecord++);
    otherService.subscribe("a", () => otherPrefix++);

    // The subscription is sent asynchronously; publish until it is in place.
    await until(() => {
      if (first === 0) publisher.publish("a");
      return first > 0;
    });
    await until(() => second > 0);

    stopFirst();
    const firstBefore = first;
    const secondBefore = second;
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    publisher.publish("a");
    await until(() => second > secondBefore);
    await new Promise((resolve) => setTimeout(resolve, settleMs));

    assert.equal(first, firstBefore, "an unsubscribed listener heard a notice");
    assert.equal(otherRecord, 0, "a listener of another record heard a notice");
    assert.equal(otherPrefix, 0, "a listener under another channel prefix heard a notice");
  });
});
