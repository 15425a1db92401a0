// Goal: a web page in headless Chromium, served from another origin than the
// server, calls a real auth process and the runtime's test server with @connectrpc/connect-web over both the
// Connect protocol and gRPC-Web, through the browser's own CORS checks: a public
// RPC, gRPC health, an RPC needing a bearer token (so the Authorization header
// must pass the preflight) and a request failing validation all come back as the
// server sent them, and the same page on an origin outside the allowed list is
// blocked by the browser.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Code } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus } from "@trustmesh/api/grpc/health/v1/health_pb.js";
import { startPostgres, startRedis, startServices } from "@trustmesh/testkit";
import type { Page } from "playwright-core";
import type { RunningServer } from "../../packages/runtime/src/index.ts";
import { startEchoServer } from "../../packages/runtime/test/support/echo-server.ts";
import { createTestKey, signToken, startJwksServer } from "../../packages/runtime/test/support/tokens.ts";
import type { BrowserProtocol, Outcome, PageGlobal, Target, TrustmeshPage } from "./page/trustmesh-page.ts";
import { buildTestPage } from "./support/build-test-page.ts";
import { type ChromiumSession, launchChromium } from "./support/chromium.ts";
import { type StaticServer, startStaticServer } from "./support/static-server.ts";

// In-page calls are bounded by connect-web's own timeout; the Node-side bound is
// larger so that, if the page itself wedges, the test fails with a clear message
// well before mocha's 60 s timeout.
const callTimeoutMs = 5_000;
const evaluateTimeoutMs = 15_000;
const protocols: readonly BrowserProtocol[] = ["connect", "grpc-web"];

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface OpenPage {
  page: Page;
  /** The page's API, called in the browser through page.evaluate. */
  api: TrustmeshPage;
  /** Everything the browser logged, including its own CORS errors, which scripts cannot see. */
  consoleMessages: string[];
  pageErrors: string[];
}

function expectOk<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) assert.fail(`expected success, got ${outcome.error.codeName}: ${outcome.error.message}`);
  return outcome.value;
}

function expectError<T>(outcome: Outcome<T>): Extract<Outcome<T>, { ok: false }>["error"] {
  if (outcome.ok) assert.fail(`expected an error, got ${JSON.stringify(outcome.value)}`);
  return outcome.error;
}

describe("browser clients (connect-web in headless Chromium)", () => {
  // Resources are closed in reverse order of creation, even when before() fails halfway.
  const cleanups: Array<() => Promise<void>> = [];
  let chromium: ChromiumSession;
  let allowedPage: StaticServer;
  let deniedPage: StaticServer;
  let server: RunningServer;
  let serverBaseUrl: string;
  let accessToken: string;
  const openPages: OpenPage[] = [];

  before(async () => {
    const key = await createTestKey("browser-key-1");
    const jwks = await startJwksServer([key]);
    cleanups.push(() => jwks.close());

    const pageDir = await mkdtemp(path.join(tmpdir(), "trustmesh-test-page-"));
    cleanups.push(() => rm(pageDir, { recursive: true, force: true }));
    await buildTestPage(pageDir);
    // Two origins serve the same page; only the first is allowed by the server.
    allowedPage = await startStaticServer(pageDir);
    cleanups.push(() => allowedPage.close());
    deniedPage = await startStaticServer(pageDir);
    cleanups.push(() => deniedPage.close());

    server = await startEchoServer({ jwksUrl: jwks.url, corsAllowedOrigins: [allowedPage.origin] });
    cleanups.push(() => server.shutdown(1_000));
    serverBaseUrl = `http://127.0.0.1:${server.httpPort}`;
    // Ports differ, so the origins differ, so every call below is cross-origin.
    assert.notEqual(allowedPage.origin, serverBaseUrl);
    assert.notEqual(deniedPage.origin, allowedPage.origin);

    accessToken = await signToken(key, { subject: "user-browser-1", kind: "user" });

    chromium = await launchChromium({ launchTimeoutMs: 30_000, actionTimeoutMs: 15_000 });
    cleanups.push(() => chromium.close());
  });

  after(async () => {
    const failures: unknown[] = [];
    for (const cleanup of cleanups.reverse()) {
      try {
        await withTimeout(cleanup(), 10_000, "cleanup");
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, "cleanup failed");
  });

  afterEach(async () => {
    // A script error in the page would otherwise only show up as a confusing assertion.
    const pageErrors = openPages.flatMap((open) => open.pageErrors);
    await Promise.all(openPages.splice(0).map((open) => open.page.close()));
    assert.deepEqual(pageErrors, [], "the page threw");
  });

  async function openPage(origin: string): Promise<OpenPage> {
    const page = await chromium.context.newPage();
    const opened: OpenPage = { page, api: pageApi(page), consoleMessages: [], pageErrors: [] };
    openPages.push(opened);
    page.on("console", (message) => opened.consoleMessages.push(message.text()));
    page.on("pageerror", (error) => opened.pageErrors.push(String(error)));
    const response = await page.goto(`${origin}/`, { waitUntil: "load" });
    assert.equal(response?.status(), 200);
    // Module scripts run before the load event; this only guards against a bundle that failed to run.
    await page.waitForFunction(() => (globalThis as unknown as Partial<PageGlobal>).trustmeshPage !== undefined);
    return opened;
  }

  // Each method runs the page's function of the same name inside the browser.
  function pageApi(page: Page): TrustmeshPage {
    const inPage = <R>(what: string, run: Promise<R>) => withTimeout(run, evaluateTimeoutMs, `page call ${what}`);
    return {
      echo: (target, message) =>
        inPage(
          "echo",
          page.evaluate(([target, message]) => (globalThis as unknown as PageGlobal).trustmeshPage.echo(target, message), [
            target,
            message,
          ] as const),
        ),
      echoAuthenticated: (target, message, token) =>
        inPage(
          "echoAuthenticated",
          page.evaluate(
            ([target, message, token]) => (globalThis as unknown as PageGlobal).trustmeshPage.echoAuthenticated(target, message, token),
            [target, message, token] as const,
          ),
        ),
      checkHealth: (target, service) =>
        inPage(
          "checkHealth",
          page.evaluate(([target, service]) => (globalThis as unknown as PageGlobal).trustmeshPage.checkHealth(target, service), [
            target,
            service,
          ] as const),
        ),
      getJwks: (target) =>
        inPage(
          "getJwks",
          page.evaluate((target) => (globalThis as unknown as PageGlobal).trustmeshPage.getJwks(target), target),
        ),
    };
  }

  describe("against a real service process (auth, on Postgres and Redis)", function () {
    this.timeout(120_000);
    let authBaseUrl: string;

    before(async () => {
      const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
      cleanups.push(
        () => postgres.stop(),
        () => redis.stop(),
      );
      const platform = await startServices({
        names: ["auth"],
        databaseUrlFor: (name) => postgres.createDatabase(`browser_${name}`),
        redisUrl: redis.url,
        env: { CORS_ALLOWED_ORIGINS: allowedPage.origin },
      });
      cleanups.push(() => platform.stop());
      authBaseUrl = platform.services.auth?.httpUrl ?? assert.fail("auth did not start");
    });

    for (const protocol of protocols) {
      it(`reads auth's signing keys over ${protocol} from an allowed origin`, async () => {
        const { api } = await openPage(allowedPage.origin);
        const jwks = expectOk(await api.getJwks({ baseUrl: authBaseUrl, protocol, timeoutMs: callTimeoutMs }));
        assert.equal(jwks.keys.length, 1);
        assert.deepEqual([jwks.keys[0]?.crv, jwks.keys[0]?.alg], ["Ed25519", "EdDSA"]);
      });
    }
  });

  for (const protocol of protocols) {
    describe(`over ${protocol}`, () => {
      const target = (): Target => ({ baseUrl: serverBaseUrl, protocol, timeoutMs: callTimeoutMs });

      it("answers a public RPC from an allowed origin", async () => {
        const { api } = await openPage(allowedPage.origin);
        const message = `hello from the browser over ${protocol}`;
        assert.deepEqual(expectOk(await api.echo(target(), message)), { message });
      });

      it("answers the gRPC health check with SERVING", async () => {
        const { api } = await openPage(allowedPage.origin);
        const health = expectOk(await api.checkHealth(target(), ""));
        assert.equal(health.status, HealthCheckResponse_ServingStatus.SERVING);
        assert.equal(health.statusName, "SERVING");
      });

      it("sends the bearer token through CORS and gets the caller's user id back", async () => {
        const { api } = await openPage(allowedPage.origin);
        const signedIn = expectOk(await api.echoAuthenticated(target(), "who am I", accessToken));
        assert.deepEqual(signedIn, { message: "who am I", userId: "user-browser-1" });

        // Without the header the same RPC is refused, so the user id above came from the token.
        const anonymous = expectError(await api.echoAuthenticated(target(), "who am I"));
        assert.equal(anonymous.code, Code.Unauthenticated, anonymous.message);
      });

      it("reports an invalid request as INVALID_ARGUMENT naming the field", async () => {
        const { api } = await openPage(allowedPage.origin);
        const error = expectError(await api.echo(target(), "x".repeat(1025)));
        assert.equal(error.code, Code.InvalidArgument, error.message);
        assert.match(error.message, /message/);
        // Details arrive in the body (Connect) or in exposed headers or trailers
        // (gRPC-Web), so this also checks the CORS exposed-headers list.
        assert.deepEqual(error.fieldViolations, ["message"]);
      });

      it("is blocked by the browser from an origin outside the allowed list", async () => {
        const { api, consoleMessages } = await openPage(deniedPage.origin);
        const error = expectError(await api.echo(target(), "should never arrive"));
        // A script only learns that fetch failed; connect-web reports that as UNKNOWN.
        assert.equal(error.code, Code.Unknown, error.message);
        assert.match(error.message, /failed to fetch/i);
        // The reason is only in the browser's log, and it must be CORS, not a dead server.
        const corsMessage = consoleMessages.find((text) => text.includes("blocked by CORS policy"));
        assert.ok(corsMessage, `no CORS error in the browser log: ${JSON.stringify(consoleMessages)}`);
        assert.ok(corsMessage.includes(`from origin '${deniedPage.origin}'`), corsMessage);

        // The server is up and answers this same call from the allowed origin.
        const allowed = await openPage(allowedPage.origin);
        expectOk(await allowed.api.echo(target(), "still here"));
      });
    });
  }
});
