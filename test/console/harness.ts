/**
 * Browser tests of the console: a real Kiln server, Debian's chromium driven by playwright-core (headless,
 * `--no-sandbox` because the tests run as root), and the console as `scripts/install.sh` built it. Screenshots go
 * to `test-artifacts/console/` (kept after the run, ignored by git).
 */
import type { TestContext } from 'node:test';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { defaultConsoleDir } from '../../src/api/kiln/console-route.js';

export const CHROMIUM = process.env.KILN_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve('test-artifacts', 'console');

/** Why browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  if (!existsSync(CHROMIUM)) return `needs chromium at ${CHROMIUM} (scripts/install.sh --test installs Debian's)`;
  if (!existsSync(path.join(defaultConsoleDir(), 'index.html'))) return 'needs the console built (scripts/install.sh builds web/)';
  return undefined;
}

/** One headless chromium for the test, closed after it. */
export async function launchBrowser(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  t.after(() => browser.close());
  return browser;
}

/** A page at the console's sign-in, at a laptop (default) or phone width. */
export async function openConsole(browser: Browser, consoleUrl: string, viewport = { width: 1280, height: 860 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await page.goto(consoleUrl);
  return page;
}

/** Signs in through the form, as a person would: the region is chosen among the server's configured ones. */
export async function signIn(page: Page, credentials: { accessKeyId: string; secretAccessKey: string }, region = 'local'): Promise<void> {
  await page.getByLabel('Access key id').fill(credentials.accessKeyId);
  await page.getByLabel('Secret access key').fill(credentials.secretAccessKey);
  // Waits until the server's regions are listed.
  await page.getByLabel('Region').selectOption(region);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Saves a full-page screenshot as test-artifacts/console/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
