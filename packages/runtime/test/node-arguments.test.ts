// Goal: every service process runs with V8's worker threads sized to the
// machine (one fewer than its CPUs, at least one) rather than Node's fixed
// four, and every way of starting a service passes the same `node` arguments:
// the test kit and the services' harnesses use serviceNodeArguments itself,
// the npm start scripts and the container entrypoint spell them out.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { serviceNodeArguments, serviceV8PoolArgument } from "../src/node-arguments.ts";

const run = promisify(execFile);
const repositoryRoot = join(import.meta.dirname, "..", "..", "..");

/** The names of this process's threads that V8's platform runs its background work on (Linux). */
const countV8Workers = `
  const { readdirSync, readFileSync } = require("node:fs");
  const names = readdirSync("/proc/self/task").map((task) => readFileSync("/proc/self/task/" + task + "/comm", "utf8").trim());
  console.log(names.filter((name) => name === "V8Worker").length);
`;

async function v8Workers(nodeArguments: readonly string[]): Promise<number> {
  const { stdout } = await run(process.execPath, [...nodeArguments, "-e", countV8Workers], {
    env: { ...process.env, OTEL_SDK_DISABLED: "true" },
  });
  return Number(stdout.trim());
}

describe("node arguments of service processes", () => {
  it("gives V8 one worker thread fewer than the CPUs, where Node alone gives four (Linux: it counts /proc threads)", async () => {
    assert.equal(await v8Workers([]), 4);
    assert.equal(await v8Workers(serviceNodeArguments), Math.max(1, availableParallelism() - 1));
  });

  it("is what every npm start script and the container entrypoint pass", () => {
    const expectedScript = `node ${serviceNodeArguments.join(" ")} src/main.ts`;
    const services = readdirSync(join(repositoryRoot, "services"));
    assert.ok(services.length >= 6, `found services: ${services.join(", ")}`);
    for (const service of services) {
      const manifest = JSON.parse(readFileSync(join(repositoryRoot, "services", service, "package.json"), "utf8"));
      assert.equal(manifest.scripts?.start, expectedScript, `services/${service}/package.json start`);
    }
    // The entrypoint imports the preload itself (deploy/docker/entrypoint.ts); what node cannot take from it is on the command line.
    const entrypoint = /^ENTRYPOINT (.+)$/m.exec(readFileSync(join(repositoryRoot, "Dockerfile"), "utf8"))?.[1];
    assert.ok(entrypoint, "the Dockerfile has an ENTRYPOINT");
    assert.deepEqual(JSON.parse(entrypoint), ["/nodejs/bin/node", serviceV8PoolArgument, "/app/deploy/docker/entrypoint.ts"]);
  });
});
