// Goal: startService runs the stop hooks a service registers (its background
// workers and sweepers) while the Postgres pool and Redis are still open, so the
// hooks can write their last state, and only then closes them; one failing hook
// neither stops the others nor the shutdown; and hooks registered before a
// failed start still run, so nothing keeps the process alive.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type PostgresServer, type RedisServer, startPostgres, startRedis } from "@trustmesh/testkit";
import { createLocalJWKSet } from "jose";
import type pg from "pg";
import { registration, type ServiceDefinition, type ServiceDependencies, startService } from "../src/index.ts";
import { EchoService, echoServiceImpl } from "./support/echo-service.ts";

const migrationsDir = join(import.meta.dirname, "fixtures", "ordered-migrations");

describe("startService stop hooks", function () {
  this.timeout(60_000);
  let postgres: PostgresServer;
  let redis: RedisServer;

  before(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  });

  after(async () => {
    await Promise.all([redis?.stop(), postgres?.stop()]);
  });

  async function environment(database: string): Promise<NodeJS.ProcessEnv> {
    return {
      DATABASE_URL: await postgres.createDatabase(database),
      REDIS_URL: redis.url,
      AUTH_GRPC_URL: "http://127.0.0.1:1",
      HOST: "127.0.0.1",
      GRPC_PORT: "0",
      HTTP_PORT: "0",
      ADMIN_PORT: "0",
      LOG_LEVEL: "silent",
      SHUTDOWN_GRACE_MS: "1000",
    };
  }

  function definition(
    createServices: (dependencies: ServiceDependencies<Record<string, never>>) => void,
  ): ServiceDefinition<Record<string, never>> {
    return {
      name: "echo",
      configShape: {},
      migrationsDir,
      // Tokens are not what this test is about: an empty key set, no call to auth.
      tokenKeys: () => createLocalJWKSet({ keys: [] }),
      createServices(dependencies) {
        createServices(dependencies);
        return [registration(EchoService, echoServiceImpl)];
      },
    };
  }

  it("runs every hook with the pool and Redis still open, then closes them, even when one hook fails", async () => {
    const ran: string[] = [];
    let pool: pg.Pool | undefined;
    const running = await startService(
      definition((dependencies) => {
        pool = dependencies.pool;
        dependencies.onStop(async () => {
          // A worker giving its job back: the last write happens during the stop.
          await new Promise((resolve) => setTimeout(resolve, 50));
          const { rows } = await dependencies.pool.query<{ one: number }>("SELECT 1 AS one");
          assert.equal(rows[0]?.one, 1);
          assert.equal(await dependencies.redis.ping(), "PONG");
          ran.push("worker");
        });
        dependencies.onStop(async () => {
          ran.push("failing");
          throw new Error("this hook fails");
        });
      }),
      await environment("hooks_stop"),
    );
    assert.deepEqual(ran, [], "no hook runs before the stop");
    await running.stop();
    assert.deepEqual(ran.sort(), ["failing", "worker"]);
    assert.equal(pool?.ended, true, "the pool is closed after the hooks");
  });

  it("runs the hooks registered before a start that fails, and rejects with the failure", async () => {
    let stopped = false;
    await assert.rejects(
      startService(
        definition((dependencies) => {
          dependencies.onStop(async () => {
            stopped = true;
          });
          throw new Error("the service could not be built");
        }),
        await environment("hooks_failed_start"),
      ),
      /the service could not be built/,
    );
    assert.equal(stopped, true);
  });
});
