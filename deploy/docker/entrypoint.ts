// The container's entrypoint: one image for every service.
//
//   serve <service>     run the service (telemetry first, as `node --import` would)
//   migrate <service>   apply the service's migrations and exit
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const services = ["auth", "payments", "ledger", "credential", "health-processing", "face"];
const repositoryRoot = join(import.meta.dirname, "..", "..");
const [command, service] = process.argv.slice(2);

if ((command !== "serve" && command !== "migrate") || !service || !services.includes(service)) {
  console.error(`usage: serve|migrate <service>, where <service> is one of ${services.join(", ")}`);
  process.exit(2);
}

if (command === "migrate") {
  const { migrate } = await import(pathToFileURL(join(repositoryRoot, "scripts", "migrate.ts")).href);
  process.exitCode = await migrate(service, process.env.DATABASE_URL);
} else {
  // Telemetry registers its module hooks before the service's modules load, so
  // pg and ioredis are instrumented exactly as with `node --import`.
  await import("@trustmesh/runtime/telemetry");
  await import(pathToFileURL(join(repositoryRoot, "services", service, "src", "main.ts")).href);
}
