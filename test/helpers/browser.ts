import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (.ci/run installs it); CHROMIUM_PATH overrides the path. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Headless chromium with a new, empty profile that is deleted on close. */
export async function launchBrowser(viewport = { width: 1440, height: 1000 }, extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium (sudo apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'hsfl-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs], viewport, deviceScaleFactor: 1, timeout: 60000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context, page,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function artifactsDir(root: string, name: string): string {
  const dir = join(root, 'test-artifacts', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Waits until the number in a data attribute of a test id satisfies `op` against `n`. */
export async function waitForAttr(page: Page, testId: string, attr: string, op: '>=' | '>' | '==', n: number, timeout: number): Promise<number> {
  const handle = await page.waitForFunction(
    ({ testId, attr, op, n }) => {
      // Runs in the page (no DOM types in the tests' Node build).
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string | null } | null } }).document;
      const el = doc.querySelector(`[data-testid="${testId}"]`);
      const raw = el?.getAttribute(attr);
      if (raw === null || raw === undefined || raw === '') return false;
      const v = Number(raw);
      const ok = op === '>=' ? v >= n : op === '>' ? v > n : v === n;
      return ok ? v : false;
    },
    { testId, attr, op, n },
    { timeout, polling: 100 },
  );
  return Number(await handle.jsonValue());
}

export async function attrNumber(page: Page, testId: string, attr: string): Promise<number> {
  const v = await page.getByTestId(testId).getAttribute(attr);
  return v === null || v === '' ? NaN : Number(v);
}
