import { strict as assert } from 'node:assert';
import { io as ioClient } from 'socket.io-client';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, initBackend, modelInfo } from '@hsfl/runtime';
import { DEFAULT_TRIAL } from '@hsfl/cloud-coordinator';
import { LIVE_PATH } from '@hsfl/cloud-coordinator/api';
import { startApiFederation, http, ADMIN, VIEWER, type ApiFederation } from './helpers/api-federation.js';
import { until } from './helpers/inproc.js';

const CONTROL_EVENTS = new Set(['run_created', 'paused', 'resumed', 'stop_requested', 'plan_requested', 'plan_applied', 'node_removed']);

/** Everything a refused request must leave alone. */
function snapshot(f: ApiFederation) {
  const c = f.served.coordinator;
  const runs = f.store.listRuns();
  return JSON.stringify({
    runs: runs.map((r) => [r.id, r.status]),
    plans: runs.map((r) => f.store.listPlans(r.id).length),
    // Events an accepted control would have written.
    events: f.store.listEvents({ limit: 100000 }).filter((e) => CONTROL_EVENTS.has(e.kind)).length,
    active: c.runId ?? null,
    paused: c.paused,
    plan: c.plan ? [c.plan.version, c.plan.c1, c.plan.c2, c.plan.i1, c.plan.i2] : null,
    topology: c.topology().map((e) => [e.id, e.devices.map((d) => d.id)]),
  });
}

const CONTROL: [string, string, unknown?][] = [
  ['POST', '/api/runs', { name: 'x' }],
  ['POST', '/api/runs/RUN/start'],
  ['POST', '/api/runs/RUN/pause'],
  ['POST', '/api/runs/RUN/resume'],
  ['POST', '/api/runs/RUN/stop'],
  ['POST', '/api/runs/RUN/plan', { c1: 1, c2: 2, i1: 1, i2: 1 }],
  ['POST', '/api/runs/RUN/replan'],
  ['POST', '/api/runs/RUN/fail'],
  ['DELETE', '/api/nodes/device-00'],
];

const READ = [
  '/api/session', '/api/overview', '/api/runs', '/api/runs/RUN', '/api/runs/RUN/metrics', '/api/runs/RUN/events', '/api/events',
  '/api/runs/RUN/plan', '/api/nodes', '/api/models', '/api/models/cnn-mnist', '/metrics',
];

describe('operations API: authentication and validation (no fleet)', function () {
  this.timeout(60000);
  let f: ApiFederation;
  let runId: string;

  before(async () => {
    await initBackend();
    f = await startApiFederation();
    runId = f.served.coordinator.createRun({ ...DEFAULT_TRIAL, name: 'fixture', batchSize: 8, rounds: 10 }).id;
  });
  after(async () => {
    await f?.close();
  });

  const fill = (p: string) => p.replace('RUN', runId);

  it('answers /api/health without a token', async () => {
    const r = await http(f.base, 'GET', '/api/health');
    assert.equal(r.status, 200);
    assert.equal(r.body.ok, true);
  });

  it('refuses every read and control route to unauthenticated and wrong-token callers (401), and changes nothing', async () => {
    const before = snapshot(f);
    for (const auth of [undefined, 'not-a-valid-token', { cookie: 'hsfl_session=forged' }]) {
      for (const p of READ) {
        const r = await http(f.base, 'GET', fill(p), { auth });
        assert.equal(r.status, 401, `GET ${p} with ${JSON.stringify(auth)}: ${r.status}`);
        assert.match(r.body.message, /authentication required/);
      }
      for (const [m, p, body] of CONTROL) {
        const r = await http(f.base, m, fill(p), { auth, body });
        assert.equal(r.status, 401, `${m} ${p}: ${r.status} ${r.text}`);
        assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="hsfl"');
      }
    }
    assert.equal(snapshot(f), before);
  });

  it('lets the viewer token read everything and refuses it every control route (403), changing nothing', async () => {
    for (const p of READ) {
      const r = await http(f.base, 'GET', fill(p), { auth: VIEWER });
      assert.equal(r.status, 200, `GET ${p}: ${r.status} ${r.text}`);
    }
    const before = snapshot(f);
    for (const [m, p, body] of CONTROL) {
      const r = await http(f.base, m, fill(p), { auth: VIEWER, body });
      assert.equal(r.status, 403, `${m} ${p}: ${r.status} ${r.text}`);
      assert.match(r.body.message, /admin token/);
    }
    assert.equal(snapshot(f), before);
  });

  it('refuses bad run descriptions with 4xx and a message, and creates nothing', async () => {
    const before = snapshot(f);
    const cases: { body?: unknown; raw?: string; type?: string; status: number; message: RegExp }[] = [
      { status: 400, message: /body must be object/ },
      { raw: '{"name": ', status: 400, message: /JSON/i },
      { raw: 'name=x', type: 'application/x-www-form-urlencoded', status: 415, message: /Unsupported Media Type/i },
      { body: [1, 2], status: 400, message: /must be object/ },
      { body: { name: 'x', bogus: 1 }, status: 400, message: /unknown field 'bogus'/ },
      { body: { c1: '2' }, status: 400, message: /body\.c1 must be integer/ },
      { body: { lr: -1 }, status: 400, message: /body\.lr/ },
      { body: { model: 'no-such-model' }, status: 400, message: /body\.model must be one of/ },
      { body: { c1: 4, c2: 2 }, status: 400, message: /c2 must be a whole number >= c1/ },
      { body: { c2: 99 }, status: 400, message: /c2 must be <= 7/ },
      { body: { rounds: 0 }, status: 400, message: /rounds must be >= 1/ },
      { body: { name: '' }, status: 400, message: /name must NOT have fewer than 1 characters/ },
      { raw: JSON.stringify({ name: 'x'.repeat(70000) }), status: 413, message: /too large/i },
    ];
    for (const c of cases) {
      const r = await http(f.base, 'POST', '/api/runs', { auth: ADMIN, body: c.body, rawBody: c.raw, contentType: c.type });
      assert.equal(r.status, c.status, `${String(JSON.stringify(c.body ?? c.raw)).slice(0, 60)}: ${r.status} ${r.text}`);
      assert.match(String(r.body?.message), c.message, `message for ${String(JSON.stringify(c.body ?? c.raw)).slice(0, 60)}: ${r.text}`);
    }
    assert.equal(snapshot(f), before);
  });

  it('creates a run from a partial trial description (201); the rest takes the defaults', async () => {
    const r = await http(f.base, 'POST', '/api/runs', { auth: ADMIN, body: { name: 'from-api', rounds: 12, c1: 1, c2: 3 } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.status, 'created');
    assert.equal(r.body.config.rounds, 12);
    assert.equal(r.body.config.model, 'cnn-mnist');
    const row = f.store.getRun(r.body.id);
    assert.ok(row && row.name === 'from-api');
    const list = await http(f.base, 'GET', '/api/runs', { auth: VIEWER });
    assert.ok(list.body.runs.some((x: { id: string }) => x.id === r.body.id));
  });

  it('answers controls on unknown or idle runs with 404/409 and a message, changing nothing', async () => {
    const before = snapshot(f);
    const expect = async (m: string, p: string, status: number, message: RegExp, body?: unknown) => {
      const r = await http(f.base, m, p, { auth: ADMIN, body });
      assert.equal(r.status, status, `${m} ${p}: ${r.status} ${r.text}`);
      assert.match(r.body.message, message);
    };
    await expect('POST', '/api/runs/no-such-run/start', 404, /no run no-such-run/);
    await expect('POST', '/api/runs/bad%20id!/start', 400, /params\.id must match pattern/);
    for (const action of ['pause', 'resume', 'stop', 'replan']) await expect('POST', `/api/runs/${runId}/${action}`, 409, /is not in progress/);
    await expect('POST', `/api/runs/${runId}/plan`, 409, /is not in progress/, { c1: 1, c2: 2, i1: 1, i2: 1 });
    await expect('POST', `/api/runs/${runId}/plan`, 400, /must have required property 'i2'/, { c1: 1, c2: 2, i1: 1 });
    await expect('POST', `/api/runs/${runId}/fail`, 409, /is created; only a running or paused run can be marked failed/);
    await expect('POST', '/api/runs/no-such-run/fail', 404, /no run no-such-run/);
    await expect('DELETE', '/api/nodes/device-99', 404, /no connected device device-99/);
    await expect('GET', `/api/runs/${runId}/model/model.json`, 404, /no stored model/);
    await expect('GET', `/api/runs/${runId}/metrics?sinceRound=abc`, 400, /querystring\.sinceRound/);
    assert.equal(snapshot(f), before);
  });

  it('marks a run a dead coordinator left running or paused failed (POST /api/runs/:id/fail); refuses it twice', async () => {
    // What a coordinator killed mid-run leaves behind: runs 'running' and 'paused' that no one drives.
    for (const id of ['orphan-running', 'orphan-paused']) f.store.createRun({ id, name: id, config: {} });
    f.store.setRunStatus('orphan-running', 'running');
    f.store.setRunStatus('orphan-paused', 'running');
    f.store.setRunStatus('orphan-paused', 'paused');

    for (const body of [{ reason: '' }, { reason: 3 }, { why: 'x' }, ['x']]) {
      const r = await http(f.base, 'POST', '/api/runs/orphan-running/fail', { auth: ADMIN, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
      assert.match(r.body.message, /body must be empty or \{ "reason"/);
    }
    assert.equal(f.store.getRun('orphan-running')!.status, 'running');

    const r = await http(f.base, 'POST', '/api/runs/orphan-running/fail', { auth: ADMIN, body: { reason: 'host lost its disk' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.run.status, 'failed');
    assert.equal(r.body.run.error, 'host lost its disk');
    const row = f.store.getRun('orphan-running')!;
    assert.equal(row.status, 'failed');
    assert.ok(row.endedAt !== null);
    const ev = f.store.listEvents({ runId: 'orphan-running' }).filter((e) => e.kind === 'run_marked_failed');
    assert.equal(ev.length, 1);
    assert.match(ev[0]!.message, /it was running\): host lost its disk/);

    const p = await http(f.base, 'POST', '/api/runs/orphan-paused/fail', { auth: ADMIN });
    assert.equal(p.status, 200, p.text);
    assert.equal(f.store.getRun('orphan-paused')!.error, 'marked failed by the operator through the API');

    const again = await http(f.base, 'POST', '/api/runs/orphan-running/fail', { auth: ADMIN });
    assert.equal(again.status, 409);
    assert.match(again.body.message, /is failed; only a running or paused run/);
    assert.equal(f.store.listEvents({ runId: 'orphan-running' }).filter((e) => e.kind === 'run_marked_failed').length, 1);
  });

  it('logs a browser in with an httpOnly SameSite=Strict session cookie, refuses cross-site use, and logs it out', async () => {
    const bad = await http(f.base, 'POST', '/api/login', { body: { token: 'wrong-token-123' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);
    const ok = await http(f.base, 'POST', '/api/login', { body: { token: VIEWER } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.role, 'viewer');
    assert.match(ok.body.csrfToken, /^[A-Za-z0-9_-]{40,}$/);
    const setCookie = ok.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /hsfl_session=/);
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Strict/i);
    const cookie = { cookie: setCookie.split(';')[0]! };
    const s = await http(f.base, 'GET', '/api/session', { auth: cookie });
    // A reloaded dashboard gets its session's CSRF token back here.
    assert.deepEqual(s.body, { role: 'viewer', via: 'session', csrfToken: ok.body.csrfToken });
    assert.deepEqual((await http(f.base, 'GET', '/api/session', { auth: VIEWER })).body, { role: 'viewer', via: 'bearer' });
    // A viewer session cannot control either.
    const viewerCsrf = { origin: f.base, 'x-csrf-token': ok.body.csrfToken };
    assert.equal((await http(f.base, 'POST', `/api/runs/${runId}/start`, { auth: cookie, headers: viewerCsrf })).status, 403);

    const admin = await http(f.base, 'POST', '/api/login', { body: { token: ADMIN } });
    const adminCookie = { cookie: (admin.headers.get('set-cookie') ?? '').split(';')[0]! };
    const before = snapshot(f);
    const cross = await http(f.base, 'POST', '/api/runs', { auth: adminCookie, body: { name: 'csrf' }, headers: { origin: 'http://evil.example', 'x-csrf-token': admin.body.csrfToken } });
    assert.equal(cross.status, 403);
    assert.match(cross.body.message, /cross-site/);
    // Same origin but no CSRF token, or another session's: refused, nothing created.
    const noToken: Record<string, string>[] = [{ origin: f.base }, {}, { origin: f.base, 'x-csrf-token': ok.body.csrfToken }, { 'x-csrf-token': 'x'.repeat(43) }];
    for (const headers of noToken) {
      const r = await http(f.base, 'POST', '/api/runs', { auth: adminCookie, body: { name: 'csrf' }, headers });
      assert.equal(r.status, 403, `${JSON.stringify(headers)}: ${r.status} ${r.text}`);
      assert.match(r.body.message, /missing or wrong CSRF token: .*X-CSRF-Token header/);
    }
    assert.equal(snapshot(f), before);
    // With the session's token the same request goes through; a bearer token needs none.
    const made = await http(f.base, 'POST', '/api/runs', { auth: adminCookie, body: { name: 'by-session' }, headers: { origin: f.base, 'x-csrf-token': admin.body.csrfToken } });
    assert.equal(made.status, 201, made.text);
    assert.equal(f.store.getRun(made.body.id)!.name, 'by-session');
    assert.equal((await http(f.base, 'POST', '/api/runs', { auth: ADMIN, body: { name: 'by-bearer' } })).status, 201);

    // Logging out is a change too: without the token it is refused and the session lives on.
    assert.equal((await http(f.base, 'POST', '/api/logout', { auth: cookie })).status, 403);
    assert.equal((await http(f.base, 'GET', '/api/session', { auth: cookie })).status, 200);
    const out = await http(f.base, 'POST', '/api/logout', { auth: cookie, headers: { 'x-csrf-token': ok.body.csrfToken } });
    assert.equal(out.status, 200);
    assert.equal((await http(f.base, 'GET', '/api/session', { auth: cookie })).status, 401);
  });

  it('checks the token of live dashboard connections', async () => {
    const url = `${f.base}/dashboard`;
    const refused = await new Promise<string>((resolve) => {
      const s = ioClient(url, { path: LIVE_PATH, transports: ['websocket'], reconnection: false, auth: { token: 'nope-nope-nope' } });
      s.on('connect_error', (e) => { s.close(); resolve(e.message); });
      s.on('connect', () => { s.close(); resolve('connected'); });
    });
    assert.equal(refused, 'unauthorized');
    const anonymous = await new Promise<string>((resolve) => {
      const s = ioClient(url, { path: LIVE_PATH, transports: ['websocket'], reconnection: false });
      s.on('connect_error', (e) => { s.close(); resolve(e.message); });
      s.on('connect', () => { s.close(); resolve('connected'); });
    });
    assert.equal(anonymous, 'unauthorized');
    const snap = await new Promise<{ role: string; overview: { run: unknown } }>((resolve, reject) => {
      const s = ioClient(url, { path: LIVE_PATH, transports: ['websocket'], reconnection: false, auth: { token: VIEWER } });
      s.on('connect_error', (e) => { s.close(); reject(e); });
      s.on('snapshot', (m) => { s.close(); resolve(m); });
    });
    assert.equal(snap.role, 'viewer');
    assert.ok(snap.overview.run);
  });
});

describe('operations API: steering a live federation', function () {
  this.timeout(120000);
  let f: ApiFederation;
  let runId: string;
  const L = modelInfo('cnn-mnist').numUnits;

  before(async () => {
    await initBackend();
    f = await startApiFederation();
    await f.addFleet([2]);
  });
  after(async () => {
    await f?.close();
  });

  it('creates and starts a run in the background (202); a second start is refused (409)', async () => {
    const created = await http(f.base, 'POST', '/api/runs', {
      auth: ADMIN, body: { name: 'steered', batchSize: 8, rounds: 100000, evalEvery: 5, c1: 2, c2: 5, i1: 2, i2: 2, minEdges: 1, minDevices: 2, joinTimeoutMs: 30000 },
    });
    assert.equal(created.status, 201, created.text);
    runId = created.body.id;
    const started = await http(f.base, 'POST', `/api/runs/${runId}/start`, { auth: ADMIN });
    assert.equal(started.status, 202, started.text);
    assert.equal(f.served.coordinator.runId, runId);
    const again = await http(f.base, 'POST', `/api/runs/${runId}/start`, { auth: ADMIN });
    assert.equal(again.status, 409);
    const other = await http(f.base, 'POST', '/api/runs', { auth: ADMIN, body: { name: 'other' } });
    const second = await http(f.base, 'POST', `/api/runs/${other.body.id}/start`, { auth: ADMIN });
    assert.equal(second.status, 409);
    assert.match(second.body.message, /in progress; one run at a time/);
    await until(() => f.store.listRoundMetrics(runId).length >= 3, 60000, 'three rounds');
  });

  it('refuses the viewer and bad plans while the run goes on, leaving the plan and the run as they were', async () => {
    const before = snapshot(f);
    assert.equal((await http(f.base, 'POST', `/api/runs/${runId}/pause`, { auth: VIEWER })).status, 403);
    assert.equal((await http(f.base, 'POST', `/api/runs/${runId}/plan`, { auth: VIEWER, body: { c1: 1, c2: 2, i1: 1, i2: 1 } })).status, 403);
    assert.equal((await http(f.base, 'DELETE', '/api/nodes/device-00', { auth: VIEWER })).status, 403);
    const bad: [unknown, RegExp][] = [
      [{ c1: 5, c2: 2, i1: 1, i2: 1 }, /cuts must satisfy 0 <= c1 <= c2 <= 7/],
      [{ c1: 1, c2: L + 1, i1: 1, i2: 1 }, /cuts must satisfy/],
      [{ c1: 1, c2: 2, i1: 0, i2: 1 }, /body\.i1 must be >= 1/],
      [{ c1: 1.5, c2: 2, i1: 1, i2: 1 }, /body\.c1 must be integer/],
      [{ c1: 1, c2: 2, i1: 1, i2: 1, c3: 4 }, /unknown field 'c3'/],
      [{ c1: 1, c2: 2, i1: 1 }, /required property 'i2'/],
      ['c1=1', /must be object/],
    ];
    for (const [body, message] of bad) {
      const r = await http(f.base, 'POST', `/api/runs/${runId}/plan`, { auth: ADMIN, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
      assert.match(r.body.message, message);
    }
    const replanBad = await http(f.base, 'POST', `/api/runs/${runId}/replan`, { auth: ADMIN, body: { why: 'x' } });
    assert.equal(replanBad.status, 400);
    assert.equal((await http(f.base, 'DELETE', '/api/nodes/edge-0', { auth: ADMIN })).status, 400);
    // Rounds go on meanwhile; compare everything but their count.
    assert.equal(snapshot(f), before);
    assert.equal(f.served.coordinator.plan!.version, 1);
  });

  it('pauses and resumes the run', async () => {
    const p = await http(f.base, 'POST', `/api/runs/${runId}/pause`, { auth: ADMIN });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.paused, true);
    assert.equal(f.served.coordinator.paused, true);
    assert.equal(f.store.getRun(runId)!.status, 'paused');
    // Paused, but driven by this coordinator: not an interrupted run.
    const fail = await http(f.base, 'POST', `/api/runs/${runId}/fail`, { auth: ADMIN });
    assert.equal(fail.status, 409, fail.text);
    assert.match(fail.body.message, /in progress in this coordinator; stop it/);
    assert.equal(f.store.getRun(runId)!.status, 'paused');
    const r = await http(f.base, 'POST', `/api/runs/${runId}/resume`, { auth: ADMIN });
    assert.equal(r.status, 200);
    assert.equal(f.served.coordinator.paused, false);
    assert.equal(f.store.getRun(runId)!.status, 'running');
  });

  it('applies a manual plan after the next synced round and shows it with its history', async () => {
    const r = await http(f.base, 'POST', `/api/runs/${runId}/plan`, { auth: ADMIN, body: { c1: 1, c2: 4, i1: 3, i2: 1, reason: 'test moves the cuts' } });
    assert.equal(r.status, 202, r.text);
    await until(() => f.served.coordinator.plan?.version === 2, 60000, 'plan v2');
    const plan = await http(f.base, 'GET', `/api/runs/${runId}/plan`, { auth: VIEWER });
    assert.equal(plan.status, 200);
    assert.deepEqual([plan.body.current.c1, plan.body.current.c2, plan.body.current.i1, plan.body.current.i2], [1, 4, 3, 1]);
    assert.equal(plan.body.history.length, 2);
    assert.equal(plan.body.history[1].reason, 'test moves the cuts');
    assert.equal(plan.body.model.numUnits, L);
    assert.equal(plan.body.model.units.length, L);
  });

  it('re-plans through the planner, or answers 501 when the coordinator has none', async () => {
    const r = await http(f.base, 'POST', `/api/runs/${runId}/replan`, { auth: ADMIN });
    const has = typeof (f.served.coordinator as unknown as { replan?: unknown }).replan === 'function';
    if (has) assert.ok(r.status === 202 || r.status === 422, `${r.status} ${r.text}`);
    else {
      assert.equal(r.status, 501);
      assert.match(r.body.message, /no planner/);
    }
  });

  it('serves metrics, events, nodes and Prometheus figures', async () => {
    const m = await http(f.base, 'GET', `/api/runs/${runId}/metrics?sinceRound=1&limit=2`, { auth: VIEWER });
    assert.equal(m.status, 200);
    assert.deepEqual(m.body.metrics.map((x: { round: number }) => x.round), [2, 3]);
    const ev = await http(f.base, 'GET', `/api/runs/${runId}/events?limit=5`, { auth: VIEWER });
    assert.ok(ev.body.events.length > 0 && ev.body.events.length <= 5);
    const since = ev.body.events[0].id;
    const ev2 = await http(f.base, 'GET', `/api/runs/${runId}/events?sinceId=${since}`, { auth: VIEWER });
    assert.ok(ev2.body.events.every((e: { id: number }) => e.id > since));
    const nodes = await http(f.base, 'GET', '/api/nodes', { auth: VIEWER });
    assert.equal(nodes.body.edges.length, 1);
    assert.deepEqual(nodes.body.edges[0].devices.map((d: { id: string }) => d.id), ['device-00', 'device-01']);
    const prom = await http(f.base, 'GET', '/metrics', { auth: VIEWER });
    assert.match(prom.headers.get('content-type') ?? '', /text\/plain/);
    for (const name of ['hsfl_round', 'hsfl_test_accuracy', 'hsfl_train_loss', 'hsfl_tier_compute_ms{tier="device"}', 'hsfl_link_bytes_total{link="device_edge_up"}', 'hsfl_connected_edges 1', 'hsfl_connected_devices 2']) {
      assert.ok(prom.text.includes(name), `${name} missing from /metrics`);
    }
    const rounds = Number(/^hsfl_rounds_total (\d+)/m.exec(prom.text)?.[1]);
    assert.ok(rounds >= 3, `hsfl_rounds_total ${rounds}`);
  });

  it('serves the live assembled model while training, loadable by tf.loadLayersModel', async () => {
    const model = await tfl.loadLayersModel(tf.io.http(`${f.base}/api/runs/${runId}/model/model.json`, { requestInit: { headers: { authorization: `Bearer ${VIEWER}` } } }));
    const out = model.predict(tf.zeros([1, 28, 28, 1])) as tf.Tensor;
    assert.deepEqual(out.shape, [1, 10]);
    out.dispose();
    model.dispose();
    const head = await http(f.base, 'GET', `/api/runs/${runId}/model/model.json`, { auth: VIEWER });
    assert.equal(head.headers.get('x-hsfl-live'), 'true');
  });

  it('removes a device (202) and the topology loses it; then stops the run and serves its final checkpoint', async () => {
    const r = await http(f.base, 'DELETE', '/api/nodes/device-01', { auth: ADMIN });
    assert.equal(r.status, 202, r.text);
    await until(() => f.served.coordinator.topology()[0]!.devices.length === 1, 30000, 'device-01 to leave');
    const nodes = await http(f.base, 'GET', '/api/nodes', { auth: VIEWER });
    assert.deepEqual(nodes.body.edges[0].devices.map((d: { id: string }) => d.id), ['device-00']);
    assert.ok(nodes.body.departed.some((d: { id: string; status: string }) => d.id === 'device-01' && d.status === 'removed'));

    const s = await http(f.base, 'POST', `/api/runs/${runId}/stop`, { auth: ADMIN });
    assert.equal(s.status, 202);
    await until(() => f.store.getRun(runId)?.status === 'stopped', 60000, 'the run to stop');
    await until(() => f.served.coordinator.runId === undefined, 10000, 'the coordinator to be idle');
    const meta = await http(f.base, 'GET', `/api/runs/${runId}/model/model.json`, { auth: VIEWER });
    assert.equal(meta.status, 200);
    assert.equal(meta.headers.get('x-hsfl-live'), 'false');
    const bin = await fetch(`${f.base}/api/runs/${runId}/model/weights.bin`, { headers: { authorization: `Bearer ${VIEWER}` } });
    const size = (await bin.arrayBuffer()).byteLength;
    const expected = (meta.body.weightsManifest[0].weights as { shape: number[] }[]).reduce((a, w) => a + 4 * w.shape.reduce((x, y) => x * y, 1), 0);
    assert.equal(size, expected);
    const model = await tfl.loadLayersModel(tf.io.http(`${f.base}/api/runs/${runId}/model/model.json`, { requestInit: { headers: { authorization: `Bearer ${ADMIN}` } } }));
    model.dispose();
    // Controls on the ended run are refused now.
    assert.equal((await http(f.base, 'POST', `/api/runs/${runId}/pause`, { auth: ADMIN })).status, 409);
  });
});
