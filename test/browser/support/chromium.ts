// Launches Debian's Chromium headless through playwright-core, with a fresh
// profile in a temporary directory. Playwright's own browser downloads are never
// used: this machine cannot fetch them, and the installed browser is what we test.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const chromiumPath = "/usr/bin/chromium";

// Everything that would make Chromium talk to the outside world or do work the
// test does not need is off: this machine reaches no network beyond loopback.
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

export interface ChromiumSession {
  context: BrowserContext;
  /** Closes the browser and deletes its profile. */
  close(): Promise<void>;
}

export async function launchChromium(options: { launchTimeoutMs: number; actionTimeoutMs: number }): Promise<ChromiumSession> {
  const userDataDir = await mkdtemp(path.join(tmpdir(), "trustmesh-chromium-"));
  let context: BrowserContext;
  try {
    // Playwright takes the profile directory here, not as --user-data-dir.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumArgs,
      timeout: options.launchTimeoutMs,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  context.setDefaultTimeout(options.actionTimeoutMs);
  return {
    context,
    async close() {
      try {
        await context.close();
      } finally {
        await rm(userDataDir, { recursive: true, force: true });
      }
    },
  };
}
