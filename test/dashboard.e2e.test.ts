import { strict as assert } from 'node:assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TRIAL, defaultPkiDir } from '@hsfl/cloud-coordinator';
import { LocalFederation } from '@hsfl/lab';
import { checkNodeBundle } from '@hsfl/tier-engine';
import { launchBrowser, artifactsDir, waitForAttr, attrNumber, type Browser } from './helpers/browser.js';
import { chromiumTrustsCertificate, getJson } from './helpers/https-json.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = artifactsDir(ROOT, 'dashboard-e2e');
const DOCS_SHOT = join(ROOT, 'docs', 'images', 'dashboard.png');
const DEVICES = ['device-0-0', 'device-0-1', 'device-1-0', 'device-1-1'];

/**
 * The dashboard in real headless Chromium against a live local federation
 * (coordinator, 2 edges, 4 devices as separate processes on loopback).
 * Screenshots go to test-artifacts/dashboard-e2e/.
 */
describe('dashboard end to end in headless Chromium', function () {
  this.timeout(180000);
  let dir: string;
  let caCert: string;
  let fed: LocalFederation;
  let browser: Browser;
  let shot = 0;
  const pageErrors: string[] = [];
  const snap = async (name: string) => {
    shot++;
    const file = join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`);
    await browser.page.screenshot({ path: file, fullPage: true });
    return file;
  };
  /** The run's next round as the coordinator sees it. */
  const serverRound = async (): Promise<number> => {
    const r = await getJson(`${fed.dashboard!.url}api/runs/${fed.runId}`, caCert, { authorization: `Bearer ${fed.dashboard!.viewerToken}` });
    return (r.body as { round: number }).round;
  };

  before(async () => {
    for (const f of readdirSync(SHOTS)) if (f.endsWith('.png')) rmSync(join(SHOTS, f));
    dir = mkdtempSync(join(tmpdir(), 'hsfl-e2e-'));
    fed = new LocalFederation({
      // A modest learning rate so that the accuracy climbs visibly during the test.
      trial: { ...DEFAULT_TRIAL, name: 'e2e-dashboard', model: 'cnn-mnist', batchSize: 8, lr: 0.02, rounds: 50000, evalEvery: 5, c1: 2, c2: 5, i1: 2, i2: 2, planner: 'off' },
      edges: 2, devicesPerEdge: 2, partition: 'iid', alpha: 1, dataSeed: 3, token: 'e2e-join-token', db: join(dir, 'hsfl.sqlite'),
      logDir: join(SHOTS, 'logs'), adminToken: 'e2e-admin-token-0123', viewerToken: 'e2e-viewer-token-0123', backend: 'wasm',
      // The coordinator keeps serving the dashboard after the run (as `npm start -- --stay` does).
      stay: true,
    });
    await fed.start();
    assert.ok(fed.dashboard, 'the coordinator printed no dashboard address');
    // Served over TLS under the trial's own CA: the browser trusts the coordinator's key, Node the CA.
    const pki = defaultPkiDir(join(dir, 'hsfl.sqlite'));
    caCert = readFileSync(join(pki, 'ca.crt'), 'utf8');
    browser = await launchBrowser(undefined, [chromiumTrustsCertificate(join(pki, 'cloud.crt'))]);
    browser.page.on('pageerror', (err) => pageErrors.push(`uncaught: ${err.message}`));
    browser.page.on('console', (m) => {
      // 401s of the session check before login and of the wrong-token attempt are expected.
      if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 401/.test(m.text())) pageErrors.push(m.text());
    });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && browser) await snap(`failed-${this.currentTest.title.replace(/\W+/g, '-').slice(0, 40)}`).catch(() => undefined);
  });

  after(async () => {
    await browser?.close();
    await fed?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints the dashboard address and tokens, and refuses a wrong token at the login page', async () => {
    const d = fed.dashboard!;
    assert.match(d.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(d.adminToken, 'e2e-admin-token-0123');
    const page = browser.page;
    await page.goto(d.url);
    await page.getByTestId('login-token').fill('not-the-token');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('login-error').waitFor({ timeout: 15000 });
    await snap('login-refused');
  });

  it('logs in with the admin token', async () => {
    const page = browser.page;
    await page.getByTestId('login-token').fill(fed.dashboard!.adminToken);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('role').filter({ hasText: 'admin' }).waitFor({ timeout: 15000 });
    await page.locator('[data-testid="live-status"][data-connected="true"]').waitFor({ timeout: 15000 });
  });

  it('shows every node of the federation', async () => {
    const page = browser.page;
    for (const id of ['edge-0', 'edge-1', ...DEVICES]) {
      await page.locator(`[data-testid="node-${id}"][data-status="connected"]`).waitFor({ timeout: 60000 });
    }
    await page.getByTestId('fleet-count').filter({ hasText: '2 edges · 4 devices' }).waitFor({ timeout: 10000 });
  });

  it('shows the plan: the model\'s layers with the cuts and intervals', async () => {
    const page = browser.page;
    const summary = page.getByTestId('plan-summary');
    await summary.waitFor({ timeout: 60000 });
    const c1 = Number(await summary.getAttribute('data-c1'));
    const c2 = Number(await summary.getAttribute('data-c2'));
    assert.deepEqual([c1, c2, Number(await summary.getAttribute('data-i1')), Number(await summary.getAttribute('data-i2'))], [2, 5, 2, 2]);
    assert.equal(await page.locator('[data-testid^="unit-"]').count(), 7);
    assert.equal(Number(await page.getByTestId('cut-c1').getAttribute('data-at')), c1);
    assert.equal(Number(await page.getByTestId('cut-c2').getAttribute('data-at')), c2);
    assert.equal(await page.getByTestId('unit-0').getAttribute('data-tier'), 'device');
    assert.equal(await page.getByTestId('unit-3').getAttribute('data-tier'), 'edge');
    assert.equal(await page.getByTestId('unit-6').getAttribute('data-tier'), 'cloud');
  });

  it('counts rounds and the test accuracy rises', async () => {
    const page = browser.page;
    const r0 = await waitForAttr(page, 'round-counter', 'data-round', '>=', 1, 60000);
    await waitForAttr(page, 'round-counter', 'data-round', '>=', r0 + 10, 60000);
    const a0 = await waitForAttr(page, 'test-accuracy', 'data-value', '>=', 0, 60000);
    const a1 = await waitForAttr(page, 'test-accuracy', 'data-value', '>=', Math.min(a0 + 0.1, 0.9), 90000);
    assert.ok(a1 > a0, `accuracy ${a0} -> ${a1}`);
    for (const id of ['chart-loss', 'chart-accuracy', 'chart-tier-time', 'chart-link-bytes']) await page.getByTestId(id).locator('canvas').waitFor();
    await snap('running');
    await page.getByTestId('x-wall').click();
    await page.getByTestId('chart-accuracy').locator('canvas').waitFor();
    await snap('running-by-wall-time');
    await page.getByTestId('x-round').click();
  });

  it('pauses (the round counter stops) and resumes (it moves on)', async () => {
    const page = browser.page;
    await page.getByTestId('btn-pause').click();
    await page.getByTestId('run-status').filter({ hasText: 'paused' }).waitFor({ timeout: 15000 });
    // The round in flight when the pause arrived still lands; then nothing moves.
    const settled = await serverRound();
    await waitForAttr(page, 'round-counter', 'data-round', '>=', settled, 15000);
    const frozen = await serverRound();
    await waitForAttr(page, 'round-counter', 'data-round', '==', frozen, 15000);
    // Watch for ~15 round times: a paused run must not count on.
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      assert.equal(await attrNumber(page, 'round-counter', 'data-round'), frozen);
      await page.waitForTimeout(100);
    }
    assert.equal(await serverRound(), frozen);
    await snap('paused');
    await page.getByTestId('btn-resume').click();
    await page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor({ timeout: 15000 });
    await waitForAttr(page, 'round-counter', 'data-round', '>=', frozen + 5, 30000);
  });

  it('keeps training (a fuller view is kept as the docs screenshot)', async () => {
    const page = browser.page;
    await waitForAttr(page, 'round-counter', 'data-round', '>=', 150, 60000);
    const file = await snap('running-later');
    // docs/images/dashboard.png is refreshed on request only, so that a test run leaves the tree clean.
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1' || !existsSync(DOCS_SHOT)) {
      mkdirSync(join(ROOT, 'docs', 'images'), { recursive: true });
      copyFileSync(file, DOCS_SHOT);
    }
  });

  it('removes a device and the topology changes', async () => {
    const page = browser.page;
    await page.getByTestId('remove-device-1-1').click();
    await page.getByTestId('confirm-remove-device-1-1').click();
    await page.locator('[data-testid="node-device-1-1"][data-status="removed"]').waitFor({ timeout: 30000 });
    await page.getByTestId('fleet-count').filter({ hasText: '2 edges · 3 devices' }).waitFor({ timeout: 30000 });
    assert.equal(await page.locator('[data-testid="node-device-1-1"][data-status="connected"]').count(), 0);
    for (const id of DEVICES.slice(0, 3)) assert.equal(await page.locator(`[data-testid="node-${id}"]`).getAttribute('data-status'), 'connected');
    await page.locator('[data-testid="event-row"][data-kind="node_removed"]').first().waitFor({ timeout: 10000 });
    // Training goes on with three devices.
    const r = await attrNumber(page, 'round-counter', 'data-round');
    await waitForAttr(page, 'round-counter', 'data-round', '>=', r + 3, 30000);
    await snap('device-removed');
  });

  it('enrolls a node (its bundle downloads) and revokes one (disconnected for good); both are audited', async () => {
    const page = browser.page;
    await page.getByTestId('enrolled-device-0-1').waitFor({ timeout: 15000 });
    await page.getByTestId('enroll-role').selectOption('device');
    await page.getByTestId('enroll-id').fill('pi-new');
    await page.getByTestId('enroll-edge').fill('edge-0');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('enroll-submit').click()]);
    assert.equal(download.suggestedFilename(), 'pi-new.hsfl.json');
    const saved = join(dir, 'pi-new.hsfl.json');
    await download.saveAs(saved);
    const { bundle } = checkNodeBundle(JSON.parse(readFileSync(saved, 'utf8')));
    assert.deepEqual([bundle.id, bundle.role, bundle.edge], ['pi-new', 'device', 'edge-0']);
    await page.locator('[data-testid="enrolled-pi-new"][data-state="enrolled"]').waitFor({ timeout: 15000 });

    await page.getByTestId('revoke-device-0-1').click();
    await page.getByTestId('revoke-confirm-device-0-1').click();
    await page.locator('[data-testid="enrolled-device-0-1"][data-state="revoked"]').waitFor({ timeout: 15000 });
    assert.equal(await fed.devices.get('device-0-1')!.exited, 3);
    await page.locator('[data-testid="event-row"][data-kind="node_revoked"]').first().waitFor({ timeout: 15000 });
    const audit = await getJson(`${fed.dashboard!.url}api/audit`, caCert, { authorization: `Bearer ${fed.dashboard!.adminToken}` });
    const rows = (audit.body as { entries: { action: string; target: string | null; principal: string }[] }).entries;
    assert.ok(rows.some((r) => r.action === 'node_enrolled' && r.target === 'pi-new' && r.principal === 'admin'), JSON.stringify(rows).slice(0, 400));
    assert.ok(rows.some((r) => r.action === 'node_revoked' && r.target === 'device-0-1' && r.principal === 'admin'));
    await snap('enrollment');
  });

  it('stops the run from the dashboard', async () => {
    const page = browser.page;
    await page.getByTestId('btn-stop').click();
    await page.getByTestId('btn-stop-confirm').click();
    await page.getByTestId('run-status').filter({ hasText: 'stopped' }).waitFor({ timeout: 60000 });
    const done = await fed.waitDone(60000);
    assert.equal(done.status, 'stopped');
    await snap('stopped');
  });

  it('shows a viewer everything but the controls', async () => {
    const page = browser.page;
    await page.getByTestId('logout').click();
    await page.getByTestId('login-token').fill(fed.dashboard!.viewerToken);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('role').filter({ hasText: 'viewer' }).waitFor({ timeout: 15000 });
    await page.getByTestId('viewer-note').waitFor();
    await page.locator('[data-testid="node-edge-0"]').waitFor();
    assert.equal(await page.getByTestId('btn-pause').count(), 0);
    assert.equal(await page.locator('[data-testid^="remove-"]').count(), 0);
    await snap('viewer');
  });

  it('raised no errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
