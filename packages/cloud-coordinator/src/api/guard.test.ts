import assert from 'node:assert/strict';
import { io as ioClient } from 'socket.io-client';
import { LIVE_NAMESPACE, LIVE_PATH } from './live.js';
import { ADMIN, VIEWER, http, login, startTestApi, type Reply, type TestApi } from './test-server.js';

/** What a live-feed handshake with `token` ends in: 'connected' or the server's refusal. */
function liveConnect(base: string, token: string): Promise<string> {
  return new Promise((resolve) => {
    const s = ioClient(base + LIVE_NAMESPACE, { path: LIVE_PATH, transports: ['websocket'], reconnection: false, auth: { token } });
    s.on('connect_error', (e) => { s.close(); resolve(e.message); });
    s.on('connect', () => { s.close(); resolve('connected'); });
  });
}

function assertJsonError(r: Reply, status: number, message: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.body.statusCode, status);
  assert.equal(typeof r.body.error, 'string');
  assert.match(r.body.message, message);
}

describe('API guard: rate limits', function () {
  this.timeout(60000);
  let api: TestApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('allows 10 logins a minute per address, then answers 429 with Retry-After, even to the right token', async () => {
    api = await startTestApi();
    for (let i = 0; i < 10; i++) assert.equal((await http(api.base, 'POST', '/api/login', { body: { token: `wrong-token-${i}` } })).status, 401);
    for (const token of ['wrong-token-x', ADMIN]) {
      const r = await http(api.base, 'POST', '/api/login', { body: { token } });
      assertJsonError(r, 429, /^too many logins from 127\.0\.0\.1: at most 10 a minute; retry in \d+ s$/);
      assert.deepEqual(r.body.error, 'Too Many Requests');
      const after = Number(r.headers.get('retry-after'));
      assert.ok(after >= 1 && after <= 60, `Retry-After ${after}`);
      assert.equal(r.headers.get('set-cookie'), null);
    }
    // Without a trusted proxy, X-Forwarded-For is not a new identity.
    const spoofed = await http(api.base, 'POST', '/api/login', { body: { token: ADMIN }, headers: { 'x-forwarded-for': '198.51.100.77' } });
    assertJsonError(spoofed, 429, /from 127\.0\.0\.1/);
    // Other routes go on: the login limit is its own.
    assert.equal((await http(api.base, 'GET', '/api/overview', { auth: VIEWER })).status, 200);
  });

  it('limits all requests per address (before authentication: a flood of wrong tokens is refused cheaply)', async () => {
    api = await startTestApi({ rateLimit: { perMinute: 30 } });
    for (let i = 0; i < 30; i++) assert.equal((await http(api.base, 'GET', '/api/runs', { auth: i % 2 ? VIEWER : 'wrong-token-1234' })).status, i % 2 ? 200 : 401);
    for (const auth of [VIEWER, 'wrong-token-1234', undefined]) {
      assertJsonError(await http(api.base, 'GET', '/api/runs', { auth }), 429, /^too many requests from 127\.0\.0\.1: at most 30 a minute/);
    }
    assertJsonError(await http(api.base, 'GET', '/api/health'), 429, /too many requests/);
  });

  it('with a trusted proxy, counts each forwarded client address on its own', async () => {
    api = await startTestApi({ trustedProxy: ['127.0.0.1'], rateLimit: { loginPerMinute: 3 } });
    const from = (ip: string) => http(api!.base, 'POST', '/api/login', { body: { token: 'wrong-token-1' }, headers: { 'x-forwarded-for': ip } });
    for (let i = 0; i < 3; i++) assert.equal((await from('203.0.113.1')).status, 401);
    assertJsonError(await from('203.0.113.1'), 429, /from 203\.0\.113\.1:/);
    assert.equal((await from('203.0.113.2')).status, 401);
  });

  it('treats a wrong token on the live feed as a failed login: limited, and coalesced in the audit trail', async () => {
    api = await startTestApi({ rateLimit: { loginPerMinute: 3 } });
    for (let i = 0; i < 3; i++) assert.equal(await liveConnect(api.base, `wrong-token-${i}`), 'unauthorized');
    assert.match(await liveConnect(api.base, 'wrong-token-x'), /^too many logins from 127\.0\.0\.1: at most 3 a minute; retry in \d+ s$/);
    assert.match(await liveConnect(api.base, VIEWER), /^too many logins/);
    const rows = (await http(api.base, 'GET', '/api/audit', { auth: ADMIN })).body.entries as { action: string; count: number; route: string }[];
    assert.deepEqual(rows.map((r) => [r.action, r.count, r.route]), [['live_login_failed', 3, LIVE_PATH]]);
    await api.close();
    api = await startTestApi({ rateLimit: { perMinute: 5 } });
    for (let i = 0; i < 5; i++) assert.equal(await liveConnect(api.base, VIEWER), 'connected');
    assert.match(await liveConnect(api.base, VIEWER), /^too many requests from 127\.0\.0\.1/);
  });

  it('refuses a bad limit at mount with a clear message', async () => {
    await assert.rejects(startTestApi({ rateLimit: { perMinute: 0 } }), /rate limit perMinute must be a whole number >= 1 \(got 0\)/);
    await assert.rejects(startTestApi({ trustedProxy: ['proxy.example'] }), /trusted proxy "proxy.example" is not an IP address or CIDR block/);
  });
});

describe('API guard: sessions', function () {
  this.timeout(120000);
  let api: TestApi;
  before(async () => {
    api = await startTestApi({ rateLimit: { loginPerMinute: 5000, perMinute: 10_000 } });
  });
  after(async () => api?.close());

  it('2,000 viewer logins do not log the admin\'s browser out', async () => {
    const admin = await login(api.base, ADMIN, { origin: api.base });
    for (let i = 0; i < 2000; i++) await login(api.base, VIEWER);
    assert.equal(api.served.api.auth.sessionCount('viewer'), 50);
    const s = await http(api.base, 'GET', '/api/session', { auth: { cookie: admin.cookie } });
    assert.equal(s.status, 200);
    assert.equal(s.body.role, 'admin');
    const made = await http(api.base, 'POST', '/api/runs', { auth: { cookie: admin.cookie }, body: { name: 'still-here' }, headers: { origin: api.base, 'x-csrf-token': admin.csrfToken } });
    assert.equal(made.status, 201, made.text);
  });
});

describe('API guard: Secure cookie and security headers', function () {
  this.timeout(60000);
  let api: TestApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  const cookieOf = async (headers: Record<string, string> = {}) => (await login(api!.base, VIEWER, headers)).reply.headers.get('set-cookie') ?? '';

  it('plain http: no Secure, no HSTS, X-Forwarded-Proto ignored without a trusted proxy', async () => {
    api = await startTestApi();
    assert.doesNotMatch(await cookieOf(), /;\s*Secure/i);
    assert.doesNotMatch(await cookieOf({ 'x-forwarded-proto': 'https' }), /;\s*Secure/i);
    const r = await http(api.base, 'GET', '/api/health', { headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(r.headers.get('strict-transport-security'), null);
  });

  it('behind a trusted proxy: Secure and HSTS when it forwarded https; from other peers X-Forwarded-Proto is ignored', async () => {
    api = await startTestApi({ trustedProxy: ['127.0.0.1/32'] });
    assert.match(await cookieOf({ 'x-forwarded-proto': 'https' }), /;\s*Secure/i);
    assert.doesNotMatch(await cookieOf(), /;\s*Secure/i);
    assert.match((await http(api.base, 'GET', '/api/health', { headers: { 'x-forwarded-proto': 'https' } })).headers.get('strict-transport-security') ?? '', /max-age=15552000/);
    await api.close();
    api = await startTestApi({ trustedProxy: ['10.0.0.0/8'] });
    assert.doesNotMatch(await cookieOf({ 'x-forwarded-proto': 'https' }), /;\s*Secure/i);
  });

  it('native TLS (ApiOptions.tls): Secure cookie, HSTS and upgrade-insecure-requests', async () => {
    api = await startTestApi({ tls: true });
    assert.match(await cookieOf(), /;\s*Secure/i);
    const r = await http(api.base, 'GET', '/');
    assert.match(r.headers.get('strict-transport-security') ?? '', /^max-age=15552000/);
    assert.match(r.headers.get('content-security-policy') ?? '', /upgrade-insecure-requests/);
  });

  it('answers every response with strict headers: CSP for the dashboard, nosniff, no framing, no referrer, no-store for the API', async () => {
    api = await startTestApi();
    const page = await http(api.base, 'GET', '/');
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const d of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'", "connect-src 'self'", "form-action 'self'"]) {
      assert.ok(csp.split(';').map((s) => s.trim()).includes(d), `CSP lacks ${d}: ${csp}`);
    }
    assert.doesNotMatch(csp, /unsafe-eval|upgrade-insecure-requests/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    for (const r of [page, await http(api.base, 'GET', '/api/runs'), await http(api.base, 'GET', '/api/runs', { auth: VIEWER })]) {
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
      assert.equal(r.headers.get('strict-transport-security'), null);
      assert.equal(r.headers.get('x-powered-by'), null);
    }
    assert.equal((await http(api.base, 'GET', '/api/runs', { auth: VIEWER })).headers.get('cache-control'), 'no-store');
  });
});

describe('API guard: request bodies', function () {
  this.timeout(60000);
  let api: TestApi;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => api?.close());

  it('refuses a body whose charset is not UTF-8 with 415, creating nothing; UTF-8 (any spelling) is fine', async () => {
    const body = JSON.stringify({ name: 'charset' });
    for (const type of ['application/json; charset=ebcdic', 'application/json; charset="latin1"', 'application/json;charset=utf-16', 'application/json; charset=']) {
      const r = await http(api.base, 'POST', '/api/runs', { auth: ADMIN, rawBody: body, contentType: type });
      assertJsonError(r, 415, /^Unsupported Media Type: request bodies must be UTF-8 JSON; charset=.* is not supported$/);
    }
    assert.equal(api.store.listRuns().length, 0);
    for (const type of ['application/json; charset=UTF-8', 'application/json; charset="utf-8"', 'application/json; charset=utf8', 'application/json']) {
      assert.equal((await http(api.base, 'POST', '/api/runs', { auth: ADMIN, rawBody: body, contentType: type })).status, 201, type);
    }
    assert.equal(api.store.listRuns().length, 4);
  });

  it('bounds every number of a run description, with readable errors, and creates nothing', async () => {
    const before = api.store.listRuns().length;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ warmupRounds: 1e308 }, /^body\.warmupRounds must be <= 1000000$/],
      [{ warmupRounds: 2.5 }, /^body\.warmupRounds must be integer$/],
      [{ replanThreshold: 1e9 }, /^body\.replanThreshold must be < 10$/],
      [{ replanThreshold: 0 }, /^body\.replanThreshold must be > 0$/],
      [{ rounds: 1e12 }, /^body\.rounds must be <= 10000000$/],
      [{ lr: 1e300 }, /^body\.lr must be <= 10$/],
      [{ joinTimeoutMs: 1e16 }, /^body\.joinTimeoutMs must be <= 604800000$/],
      [{ minDevices: -1 }, /^body\.minDevices must be >= 0$/],
      [{ targetAccuracy: 2 }, /^body\.targetAccuracy must be <= 1$/],
      [{ seed: 2 ** 32 }, /^body\.seed must be <= 4294967295$/],
      [{ planner: 'maybe' }, /^body\.planner must be one of off, auto$/],
    ];
    for (const [body, message] of cases) {
      assertJsonError(await http(api.base, 'POST', '/api/runs', { auth: ADMIN, body }), 400, message);
    }
    assert.equal(api.store.listRuns().length, before);
  });
});
