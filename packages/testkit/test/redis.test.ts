// Goal: prove startRedis gives tests a real redis-server on a free port with no
// persistence and nothing left behind after stop(), and gives scripts/start a persistent
// append-only Redis whose keys survive a restart.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { startRedis } from "../src/index.ts";

async function withRedis<T>(url: string, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

describe("startRedis", function () {
  this.timeout(60_000);

  it("starts a throwaway server without persistence and removes its folder on stop", async () => {
    const server = await startRedis();
    try {
      assert.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
      await withRedis(server.url, async (redis) => {
        await redis.set("greeting", "hello");
        assert.equal(await redis.get("greeting"), "hello");
        assert.deepEqual(await redis.config("GET", "appendonly"), ["appendonly", "no"]);
        assert.deepEqual(await redis.config("GET", "save"), ["save", ""]);
      });
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(server.dataDir), false);
    await server.stop();
  });

  it("runs several servers side by side on different ports", async () => {
    const servers = await Promise.all([startRedis(), startRedis(), startRedis()]);
    try {
      assert.equal(new Set(servers.map((server) => server.port)).size, 3);
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  });

  it("keeps keys across restarts in persistent mode", async () => {
    const parent = await mkdtemp(join(tmpdir(), "trustmesh-redis-persistent-test-"));
    const dataDir = join(parent, "redis");
    try {
      const first = await startRedis({ dataDir, ephemeral: false });
      try {
        await withRedis(first.url, async (redis) => {
          assert.deepEqual(await redis.config("GET", "appendonly"), ["appendonly", "yes"]);
          await redis.set("session", "kept");
        });
      } finally {
        await first.stop();
      }
      const second = await startRedis({ dataDir, ephemeral: false });
      try {
        await withRedis(second.url, async (redis) => {
          assert.equal(await redis.get("session"), "kept");
        });
      } finally {
        await second.stop();
      }
      assert.ok(existsSync(dataDir));
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
