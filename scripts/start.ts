// `npm start`: the whole platform on this machine. Uses DATABASE_URL and
// REDIS_URL when set; otherwise starts PostgreSQL and Redis with their data in
// .data/, kept between runs. Each service gets its own database
// (trustmesh_<service>), migrations are applied by the services as they start,
// and Ctrl-C stops everything cleanly.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  allServiceNames,
  createServiceClientCredentials,
  type PostgresServer,
  type RedisServer,
  randomKeyEncryptionKeys,
  type ServiceClientCredentials,
  type ServiceName,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";
import pg from "pg";

const root = join(import.meta.dirname, "..");
/** Local PostgreSQL and Redis data and the local key ring; TRUSTMESH_DATA_DIR moves it. */
const dataDir = process.env.TRUSTMESH_DATA_DIR ?? join(root, ".data");
/** Fixed ports so addresses stay the same between runs: base + the service's index. */
const basePorts = {
  grpc: Number(process.env.TRUSTMESH_GRPC_BASE_PORT ?? 50051),
  http: Number(process.env.TRUSTMESH_HTTP_BASE_PORT ?? 8081),
  admin: Number(process.env.TRUSTMESH_ADMIN_BASE_PORT ?? 9091),
};

/**
 * PostgreSQL refuses to run as root, so as root it runs as the postgres user,
 * who must be able to reach its data folder. A checkout under /root (mode 700)
 * is out of its reach; then the cluster lives in /var/tmp instead, under a
 * name derived from the checkout's path so each checkout keeps its own.
 */
function postgresDataDir(): string {
  const preferred = join(dataDir, "postgres");
  if (process.getuid?.() !== 0) return preferred;
  let dir = dirname(preferred);
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) {
      const fallback = join("/var/tmp", `trustmesh-postgres-${createHash("sha256").update(preferred).digest("hex").slice(0, 12)}`);
      console.log(`PostgreSQL cannot reach ${preferred} as the postgres user (${dir} is not searchable); using ${fallback}`);
      return fallback;
    }
  }
  return preferred;
}

function databaseNameOf(service: ServiceName): string {
  return `trustmesh_${service.replace("-", "_")}`;
}

/** Creates the service's database on a server we did not start, unless it exists. */
async function ensureDatabaseAt(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Local key-encryption keys, made once and kept in .data/ (never used outside this machine). */
function localKeyEncryptionKeys(): { ring: string; activeId: string } {
  if (process.env.AUTH_KEK_RING && process.env.AUTH_KEK_ACTIVE_ID)
    return { ring: process.env.AUTH_KEK_RING, activeId: process.env.AUTH_KEK_ACTIVE_ID };
  const path = join(dataDir, "local-keys.json");
  if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8")) as { ring: string; activeId: string };
  const keys = randomKeyEncryptionKeys();
  writeFileSync(path, JSON.stringify(keys), { mode: 0o600 });
  return keys;
}

/**
 * Development client credentials for service-to-service calls, made once and
 * kept in .data/local-service-clients.json: one secret per service (payments
 * uses its own; the others' serve grpcurl) and auth's AUTH_SERVICE_CLIENTS,
 * which holds only their argon2id hashes. The scopes come from testkit's
 * serviceClientScopes, the same table the tests use. AUTH_SERVICE_CLIENTS and
 * PAYMENTS_SERVICE_CLIENT_SECRET from the environment win over the file.
 */
async function localServiceClients(): Promise<ServiceClientCredentials> {
  const path = join(dataDir, "local-service-clients.json");
  let credentials: ServiceClientCredentials;
  if (existsSync(path)) credentials = JSON.parse(readFileSync(path, "utf8")) as ServiceClientCredentials;
  else {
    credentials = await createServiceClientCredentials(allServiceNames);
    writeFileSync(path, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  }
  return {
    secrets: { ...credentials.secrets, payments: process.env.PAYMENTS_SERVICE_CLIENT_SECRET ?? credentials.secrets.payments },
    authServiceClients: process.env.AUTH_SERVICE_CLIENTS ?? credentials.authServiceClients,
  };
}

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  let postgres: PostgresServer | undefined;
  let redis: RedisServer | undefined;
  const stopDependencies = async () => {
    await Promise.allSettled([redis?.stop(), postgres?.stop()]);
  };

  if (!process.env.DATABASE_URL) postgres = await startPostgres({ dataDir: postgresDataDir(), ephemeral: false });
  if (!process.env.REDIS_URL) redis = await startRedis({ dataDir: join(dataDir, "redis"), ephemeral: false });
  const databaseServerUrl = process.env.DATABASE_URL || (postgres as PostgresServer).url;
  const redisUrl = process.env.REDIS_URL || (redis as RedisServer).url;

  let platform: Awaited<ReturnType<typeof startServices>>;
  try {
    platform = await startServices({
      databaseUrlFor: (service) =>
        postgres ? postgres.ensureDatabase(databaseNameOf(service)) : ensureDatabaseAt(databaseServerUrl, databaseNameOf(service)),
      redisUrl,
      basePorts,
      keyEncryptionKeys: localKeyEncryptionKeys(),
      serviceClients: await localServiceClients(),
      env: {
        CORS_ALLOWED_ORIGINS: process.env.CORS_ALLOWED_ORIGINS ?? "http://localhost:5173,http://127.0.0.1:5173",
      },
      onOutput: (service, line) => process.stdout.write(`[${service}] ${line}\n`),
    });
  } catch (error) {
    await stopDependencies();
    throw error;
  }

  const rows = allServiceNames.map((name) => {
    const service = platform.services[name];
    return service
      ? `  ${name.padEnd(18)} gRPC 127.0.0.1:${service.grpcPort}   Connect ${service.httpUrl}   metrics ${service.metricsUrl}`
      : "";
  });
  console.log(
    [
      "",
      "Trustmesh is running:",
      ...rows,
      `  postgres           ${postgres ? postgres.url : "(DATABASE_URL)"}`,
      `  redis              ${redis ? redis.url : "(REDIS_URL)"}`,
      "",
      `Try: grpcurl -plaintext 127.0.0.1:${basePorts.grpc} list`,
      `auth's messages (codes) go to the development outbox: redis-cli -u ${redis ? redis.url.replace(/\/\d*$/, "") : "$REDIS_URL"}/0 lrange dev-outbox 0 9`,
      `Service client secrets: ${join(dataDir, "local-service-clients.json")}`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping services, then Redis and PostgreSQL`);
    await platform.stop();
    await stopDependencies();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

await main();
