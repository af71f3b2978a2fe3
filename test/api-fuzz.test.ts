import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '@hsfl/cloud-coordinator';
import { ManagedProcess, cliPath } from '@hsfl/lab';
import { http } from './helpers/api-federation.js';
import { Rng, fuzzRequest, rawRequest, send, sendRaw, type FuzzContext } from './helpers/api-fuzz.js';

const ADMIN = 'fuzz-admin-token-0123456789';
const VIEWER = 'fuzz-viewer-token-0123456789';
const REQUESTS = Number(process.env.HSFL_FUZZ_REQUESTS ?? 100_000);
const SEED = Number(process.env.HSFL_FUZZ_SEED ?? 20250914);
const CONCURRENCY = 48;
/** The share of requests sent as raw bytes on a fresh connection. */
const RAW_SHARE = 0.01;
const RSS_GROWTH_BOUND_MIB = 100;
/** Source addresses a trusted proxy (this test, on loopback) forwards for: without them nearly everything would be 429. */
const IDENTITIES = Array.from({ length: 400 }, (_, i) => (i % 2 ? `198.51.100.${i >> 1}` : `2001:db8::${(i >> 1).toString(16)}`));

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** What the flood must leave alone: the runs (every column) and the events; the audit table may only grow within its bound. */
function storeState(db: string): { runs: string; events: number; audit: number } {
  const s = Store.open(db);
  try {
    return { runs: JSON.stringify(s.listRuns()), events: s.listEvents({ limit: 1_000_000 }).length, audit: s.countAudit() };
  } finally {
    s.close();
  }
}

/**
 * The coordinator's API under a flood of malformed and hostile requests:
 * the real CLI in its own process (so that its RSS and its survival are
 * its own), a real SQLite file, `--trusted-proxy 127.0.0.1` so that the
 * test can speak for many client addresses (X-Forwarded-For) and the rate
 * limits answer only part of the flood with 429.
 */
describe('operations API under a fuzz flood', function () {
  this.timeout(300_000);
  let dir: string;
  let db: string;
  let coord: ManagedProcess;
  let base: string;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsfl-fuzz-'));
    db = join(dir, 'hsfl.sqlite');
    coord = new ManagedProcess('coordinator', cliPath('@hsfl/cloud-coordinator'), [
      'serve', '--no-start', '--stay', '--host', '127.0.0.1', '--port', '0', '--token', 'fuzz-join-token', '--db', db,
      '--backend', 'cpu', '--progress', 'jsonl', '--trusted-proxy', '127.0.0.1', '--log-level', 'info',
    ], join(dir, 'coordinator.log'), { HSFL_COORDINATOR_ADMIN_TOKEN: ADMIN, HSFL_COORDINATOR_VIEWER_TOKEN: VIEWER });
    const listening = await coord.waitFor((m) => m.type === 'listening', 60_000, 'listening');
    port = Number(listening.port);
    base = `http://127.0.0.1:${port}`;
  });

  let failed = false;
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async () => {
    await coord?.kill('SIGTERM');
    // A failure keeps the store and the coordinator's log to look at.
    if (failed) console.log(`      kept ${dir} (store, coordinator.log)`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`survives ${REQUESTS} malformed and hostile requests: alive, bounded memory, no 5xx, the store unchanged but for counted refusals`, async () => {
    const fixture = await http(base, 'POST', '/api/runs', { auth: ADMIN, body: { name: 'fuzz-fixture' } });
    assert.equal(fixture.status, 201, fixture.text);
    const viewerLogin = await http(base, 'POST', '/api/login', { body: { token: VIEWER }, headers: { 'x-forwarded-for': '192.0.2.1' } });
    assert.equal(viewerLogin.status, 200, viewerLogin.text);
    const ctx: FuzzContext = { admin: ADMIN, viewer: VIEWER, fixtureRunId: fixture.body.id, viewerCookie: (viewerLogin.headers.get('set-cookie') ?? '').split(';')[0]! };

    const before = storeState(db);
    const rng = new Rng(SEED);
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const statuses = new Map<number, number>();
    const leaks: string[] = [];
    let sent = 0;
    // Memory is measured from after a warm-up (JIT, caches, pools filled), so that growth means accumulation.
    let baselineRss: number | undefined;
    const WARMUP = 3000;
    const worker = async () => {
      while (sent < REQUESTS) {
        sent++;
        if (sent === WARMUP) baselineRss = rssMiB(coord.pid!);
        if (rng.chance(RAW_SHARE)) {
          const got = await sendRaw(port, rawRequest(rng, ctx));
          for (const s of got.length ? got : [0]) statuses.set(s, (statuses.get(s) ?? 0) + 1);
          continue;
        }
        const req = fuzzRequest(rng, ctx, IDENTITIES);
        const a = await send(port, agent, req);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        if (req.traversal && /root:x?:0:0|"name":\s*"hsfl"/.test(a.body)) leaks.push(`${req.path} -> ${a.status}: ${a.body.slice(0, 80)}`);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - t0) / 1000;
    if (process.env.HSFL_FUZZ_CPU === '1') {
      const st = readFileSync(`/proc/${coord.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      console.log(`      cpu: server ${((Number(st[11]) + Number(st[12])) / 100).toFixed(1)} s, client ${(process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6).toFixed(1)} s`);
    }
    agent.destroy();

    assert.ok(coord.alive, `the coordinator died:\n${coord.stderr()}`);
    const rss = rssMiB(coord.pid!);
    const byStatus = Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0]));
    const after = storeState(db);
    console.log(`      fuzz: ${sent} requests (seed ${SEED}) in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s); RSS ${baselineRss!.toFixed(0)} -> ${rss.toFixed(0)} MiB; audit rows ${before.audit} -> ${after.audit}; statuses ${JSON.stringify(byStatus)}`);

    const health = await http(base, 'GET', '/api/health', { headers: { 'x-forwarded-for': '192.0.2.250' } });
    assert.equal(health.status, 200, health.text);
    assert.equal(health.body.ok, true);
    const fivexx = [...statuses].filter(([s]) => s >= 500);
    assert.deepEqual(fivexx, [], `5xx answers: ${JSON.stringify(fivexx)}; see ${join(dir, 'coordinator.log')}`);
    assert.deepEqual(leaks, []);
    // Nothing went wrong inside either (pino level 50 and up: error, fatal), and the log stayed small: refusals are coalesced.
    const logText = readFileSync(join(dir, 'coordinator.log'), 'utf8');
    const errors = logText.split('\n').filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} error lines in the coordinator's log`);
    assert.ok(logText.length < 2 * 1024 * 1024, `the coordinator logged ${logText.length} bytes`);
    assert.ok(rss - baselineRss! < RSS_GROWTH_BOUND_MIB, `RSS grew ${(rss - baselineRss!).toFixed(0)} MiB (bound ${RSS_GROWTH_BOUND_MIB})`);
    // Most of the flood reached the routes (not only the rate limiter), and some of it was rate-limited.
    const count = (pred: (s: number) => boolean) => [...statuses].filter(([s]) => pred(s)).reduce((x, [, n]) => x + n, 0);
    assert.ok(count((s) => s === 429) > 0, 'nothing was rate-limited');
    assert.ok(count((s) => s >= 400 && s < 500 && s !== 429) > REQUESTS / 2, `too few requests reached the checks behind the rate limit: ${JSON.stringify(byStatus)}`);
    assert.equal(after.runs, before.runs, 'the runs table changed');
    assert.equal(after.events, before.events, 'events were written');
    // Refusals are coalesced: at most the per-window row budget (100) per started minute, plus one folded row per kind.
    const windows = Math.ceil(seconds / 60) + 1;
    assert.ok(after.audit - before.audit <= windows * 100 + 200, `audit grew by ${after.audit - before.audit} rows`);

    // A legitimate admin still gets in and gets things done, in a browser session (CSRF token) and with the bearer token.
    const me = { 'x-forwarded-for': '192.0.2.251', origin: base };
    const login = await http(base, 'POST', '/api/login', { body: { token: ADMIN }, headers: me });
    assert.equal(login.status, 200, login.text);
    const cookie = { cookie: (login.headers.get('set-cookie') ?? '').split(';')[0]! };
    const made = await http(base, 'POST', '/api/runs', { auth: cookie, body: { name: 'after-the-flood' }, headers: { ...me, 'x-csrf-token': login.body.csrfToken } });
    assert.equal(made.status, 201, made.text);
    const audit = await http(base, 'GET', '/api/audit?limit=5', { auth: ADMIN, headers: me });
    const row = (audit.body.entries as { action: string; target: string; principal: string; via: string; address: string }[]).find((e) => e.action === 'run_created');
    assert.deepEqual(row && [row.principal, row.via, row.address, row.target], ['admin', 'session', '192.0.2.251', made.body.id]);
  });
});
