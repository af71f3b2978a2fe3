import assert from 'node:assert/strict';
import type { AuditRow } from '../store/index.js';
import { ADMIN, VIEWER, http, login, startTestApi, type TestApi } from './test-server.js';

async function trail(api: TestApi, query = ''): Promise<AuditRow[]> {
  const r = await http(api.base, 'GET', `/api/audit${query}`, { auth: ADMIN });
  assert.equal(r.status, 200, r.text);
  return r.body.entries as AuditRow[];
}

const sum = (rows: AuditRow[]) => rows.reduce((a, r) => a + r.count, 0);

describe('API audit trail', function () {
  this.timeout(60000);
  let api: TestApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('records an admin action with who, what, when and the outcome, in the store and the log', async () => {
    api = await startTestApi();
    const t0 = Date.now();
    const made = await http(api.base, 'POST', '/api/runs', { auth: ADMIN, body: { name: 'audited' } });
    assert.equal(made.status, 201);
    const t1 = Date.now();
    const [row] = await trail(api);
    assert.ok(row);
    assert.deepEqual(
      { ...row, id: 0, at: 0, lastAt: 0 },
      { id: 0, at: 0, lastAt: 0, count: 1, principal: 'admin', via: 'bearer', address: '127.0.0.1', action: 'run_created', method: 'POST', route: '/api/runs', target: made.body.id, status: 201, detail: 'audited' },
    );
    assert.ok(row.at >= t0 && row.at <= t1, `at ${row.at} not in [${t0}, ${t1}]`);
    const line = api.log.lines.find((l) => (l.obj.audit as { id?: number } | undefined)?.id === row.id);
    assert.ok(line, 'no audit line in the log');
    assert.equal(line.level, 'info');
    assert.equal(line.msg, `audit: admin (bearer) from 127.0.0.1: run_created ${made.body.id} -> 201`);
  });

  it('records logins, session controls, refusals and logouts; reads are not recorded', async () => {
    api = await startTestApi();
    api.store.createRun({ id: 'orphan', name: 'orphan', config: {} });
    api.store.setRunStatus('orphan', 'running');
    const s = await login(api.base, ADMIN, { origin: api.base });
    const cookie = { cookie: s.cookie };
    const headers = { origin: api.base, 'x-csrf-token': s.csrfToken };
    assert.equal((await http(api.base, 'GET', '/api/runs', { auth: cookie })).status, 200);
    assert.equal((await http(api.base, 'POST', '/api/runs/orphan/fail', { auth: cookie, headers, body: { reason: 'disk lost' } })).status, 200);
    assert.equal((await http(api.base, 'DELETE', '/api/nodes/device-7', { auth: cookie, headers })).status, 404);
    assert.equal((await http(api.base, 'POST', '/api/runs/orphan/stop', { auth: VIEWER })).status, 403);
    assert.equal((await http(api.base, 'POST', '/api/logout', { auth: cookie, headers })).status, 200);
    const rows = (await trail(api)).reverse();
    const brief = rows.map((r) => [r.principal, r.via, r.action, r.target, r.status]);
    assert.deepEqual(brief, [
      ['admin', 'login', 'login', null, 200],
      ['admin', 'session', 'run_marked_failed', 'orphan', 200],
      ['admin', 'session', 'node_removed', 'device-7', 404],
      ['viewer', 'bearer', 'run_stopped', 'orphan', 403],
      ['admin', 'session', 'logout', null, 200],
    ]);
    assert.equal(rows[1]!.detail, 'disk lost');
    assert.match(rows[2]!.detail!, /no connected device device-7/);
    assert.match(rows[3]!.detail!, /needs the admin token/);
    // Logging out without a session ends nothing: 20 of them are one counted row, not 20.
    for (let i = 0; i < 20; i++) assert.equal((await http(api.base, 'POST', '/api/logout', { auth: ADMIN })).status, 200);
    const noops = (await trail(api)).filter((r) => r.action === 'logout' && r.via === 'bearer');
    assert.deepEqual(noops.map((r) => r.count), [20]);
  });

  it('is for the admin only, read-only, with checked paging', async () => {
    api = await startTestApi();
    assert.equal((await http(api.base, 'GET', '/api/audit')).status, 401);
    assert.equal((await http(api.base, 'GET', '/api/audit', { auth: VIEWER })).status, 403);
    assert.equal((await http(api.base, 'POST', '/api/audit', { auth: ADMIN, body: {} })).status, 404);
    assert.equal((await http(api.base, 'DELETE', '/api/audit', { auth: ADMIN })).status, 404);
    for (const q of ['?limit=0', '?limit=1001', '?limit=abc', '?beforeId=-1', '?x=1']) {
      const r = await http(api.base, 'GET', `/api/audit${q}`, { auth: ADMIN });
      assert.equal(r.status, 400, `${q}: ${r.text}`);
    }
    for (let i = 0; i < 5; i++) await http(api.base, 'POST', '/api/runs', { auth: ADMIN, body: { name: `r${i}` } });
    const page = await trail(api, '?limit=2');
    assert.deepEqual(page.map((r) => r.detail), ['r4', 'r3']);
    assert.deepEqual((await trail(api, `?limit=2&beforeId=${page[1]!.id}`)).map((r) => r.detail), ['r2', 'r1']);
  });

  it('1,000 failed logins from one address are two rows with counts (wrong token, then rate-limited)', async () => {
    // The login limit stays at its default; the overall one leaves room for reading the trail after the flood.
    api = await startTestApi({ rateLimit: { perMinute: 2000 } });
    for (let i = 0; i < 1000; i++) await http(api.base, 'POST', '/api/login', { body: { token: `guess-${i}-xxxx` } });
    const rows = await trail(api);
    assert.equal(rows.length, 2, JSON.stringify(rows));
    const byAction = Object.fromEntries(rows.map((r) => [`${r.action} ${r.status}`, r]));
    assert.equal(byAction['login_failed 401']!.count, 10);
    assert.equal(byAction['login 429']!.count, 990);
    assert.equal(sum(rows), 1000);
    for (const r of rows) assert.deepEqual([r.principal, r.address, r.route], ['anonymous', '127.0.0.1', '/api/login']);
    // Logged as the rows are, not once per attempt.
    assert.ok(api.log.lines.filter((l) => l.obj.audit).length <= 4);
  });

  it('1,000 failed logins from 1,000 addresses stay within the per-window row budget', async () => {
    api = await startTestApi({ trustedProxy: ['127.0.0.1'], audit: { rowsPerWindow: 50 } });
    for (let i = 0; i < 1000; i++) {
      await http(api.base, 'POST', '/api/login', { body: { token: 'wrong-token-1' }, headers: { 'x-forwarded-for': `10.9.${i >> 8}.${i & 255}` } });
    }
    const rows = await trail(api, '?limit=1000');
    assert.equal(rows.length, 51);
    const folded = rows.filter((r) => r.address === '*');
    assert.equal(folded.length, 1);
    assert.equal(folded[0]!.count, 950);
    assert.equal(sum(rows), 1000);
  });

  it('coalesces wrong bearer tokens per address and window, and starts a new row when the window ends', async () => {
    api = await startTestApi({ audit: { windowMs: 300 } });
    for (let i = 0; i < 200; i++) assert.equal((await http(api.base, 'GET', '/api/runs', { auth: 'stolen-token-guess' })).status, 401);
    await new Promise((r) => setTimeout(r, 350));
    for (let i = 0; i < 5; i++) await http(api.base, 'GET', '/api/overview', { auth: 'stolen-token-guess' });
    const rows = (await trail(api)).filter((r) => r.action === 'bad_token');
    assert.deepEqual(rows.map((r) => r.count), [5, 200]);
    assert.ok(rows[1]!.lastAt >= rows[1]!.at);
    // No Authorization header: a browser before login, not a guess; not recorded.
    await http(api.base, 'GET', '/api/runs');
    assert.equal((await trail(api)).filter((r) => r.action === 'bad_token').length, 2);
  });
});
