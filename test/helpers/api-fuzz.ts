// Hostile HTTP traffic for the API fuzz test: a seeded generator of
// malformed requests (for node:http(s), which refuses to send some kinds of
// garbage), of raw byte streams (for a TLS or plain TCP socket, which sends
// anything) and of cleartext bytes for a TLS port, plus the senders.
import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

/** mulberry32: small, fast, seeded; the seed is printed so a failure can be replayed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Printable ASCII without spaces (what node:http lets through in a path or header). */
  text(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(0x21 + this.int(94));
    return s;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

export interface FuzzContext {
  admin: string;
  viewer: string;
  /** A run that exists: only ever sent reads or non-admin requests, so that nothing legitimate can happen to it. */
  fixtureRunId: string;
  /** A live viewer session cookie (it cannot control anything). */
  viewerCookie: string;
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Whether the path aims outside the dashboard's directory. */
  traversal: boolean;
}

const ROUTES = [
  '/api/health', '/api/login', '/api/logout', '/api/session', '/api/overview', '/api/runs', '/api/runs/ID', '/api/runs/ID/metrics',
  '/api/runs/ID/events', '/api/events', '/api/runs/ID/plan', '/api/nodes', '/api/models', '/api/models/ID', '/api/runs/ID/model/model.json',
  '/api/runs/ID/model/weights.bin', '/metrics', '/api/runs/ID/start', '/api/runs/ID/pause', '/api/runs/ID/resume', '/api/runs/ID/stop',
  '/api/runs/ID/fail', '/api/runs/ID/replan', '/api/nodes/ID', '/api/audit', '/', '/index.html', '/assets/index.js', '/favicon.ico',
  '/live/socket.io/?EIO=4&transport=polling', '/socket.io/?EIO=4&transport=polling', '/api', '/api/', '/API/RUNS', '/api//runs',
];
const TRAVERSAL = [
  '/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2f..%2f..%2fetc%2fpasswd', '//etc/passwd',
  '/.%2e/.%2e/.%2e/etc/passwd', '/..\\..\\..\\etc\\passwd', '/api/../../../etc/passwd', '/assets/%252e%252e/%252e%252e/etc/passwd',
  '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', '/assets/....//....//etc/passwd', '/index.html/../../../etc/passwd',
];
const BAD_IDS = [
  '..', '..%2f..%2fetc%2fpasswd', '%2e%2e', '%00', '%ff%fe', '%e2%80%ae', "1'%20OR%201=1--", '%3Cscript%3E', 'a'.repeat(300),
  '__proto__', 'constructor', '-', '.', '%', '%zz', 'x'.repeat(3000), 'device-00%0d%0aSet-Cookie:%20x=1',
];
const QUERIES = [
  '', '', '', '?limit=1', '?limit=0', '?limit=99999999999', '?limit=-1', '?limit=1e3', '?sinceId=99999999999999999999', '?sinceRound=-5',
  '?level=trace', '?runId=..%2f..', '?%zz=1', '?__proto__[x]=1', '?constructor.prototype.x=1', '?beforeId=0', `?${'a=1&'.repeat(500)}`,
  '?limit=1&limit=2', '?x', '?=', '?&&&',
];
const TRIAL_KEYS = ['name', 'model', 'c1', 'c2', 'i1', 'i2', 'batchSize', 'lr', 'rounds', 'warmupRounds', 'replanThreshold', 'seed', 'codec', 'planner', 'token', 'reason'];
const VALUES: unknown[] = [
  1e308, -1e308, -1, 0, 1.5, 2 ** 53 + 1, 'x', '', null, true, [], {}, [1, [2, [3]]], { a: { b: { c: 1 } } }, 'a'.repeat(5000), '\u0000', '\ud800', 'NaN',
];
const CONTENT_TYPES = [
  'application/json', 'application/json', 'application/json; charset=utf-8', 'application/json; charset=ebcdic', 'application/json; charset="latin1"',
  'application/json; charset=utf-16le', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml',
  'application/json;;;', 'application/jsonx', 'APPLICATION/JSON', '*/*', 'application/octet-stream', 'application/json; charset=', 'x/y; a="unclosed',
];

function idFor(rng: Rng, ctx: FuzzContext, safeOnly: boolean): string {
  const r = rng.next();
  if (r < 0.25 && !safeOnly) return ctx.fixtureRunId;
  if (r < 0.6) return `run-${rng.text(8).replace(/[^A-Za-z0-9]/g, 'x')}`;
  if (r < 0.7) return rng.pick(['device-00', 'edge-0', 'cloud', 'cnn-mnist', 'mlp-mnist']);
  return rng.pick(BAD_IDS);
}

function jsonBody(rng: Rng, ctx: FuzzContext, admin: boolean): string {
  const o: Record<string, unknown> = {};
  for (let i = rng.int(6); i > 0; i--) o[rng.pick(TRIAL_KEYS)] = rng.pick(VALUES);
  // A login body never carries a real token: a flood of real logins is not what this test is about.
  if ('token' in o && (o.token === ctx.admin || o.token === ctx.viewer)) o.token = 'not-the-token';
  // As the admin, every object carries a field no route knows: it must be refused, whatever else it says.
  if (admin) o[`fuzz_${rng.int(1000)}`] = 1;
  return JSON.stringify(o);
}

function body(rng: Rng, ctx: FuzzContext, admin: boolean): { data: Buffer; type?: string } {
  const r = rng.next();
  const type = rng.chance(0.9) ? rng.pick(CONTENT_TYPES) : undefined;
  if (r < 0.35) return { data: Buffer.from(jsonBody(rng, ctx, admin)), type };
  if (r < 0.5) return { data: Buffer.from(rng.pick(['{"a":', '{"a":1,}', 'nul', '{', '}', '[1,2', '{"a":1}{"b":2}', '\ufeff{"name":"bom","fuzz":1}', '{"name":"x"\u0000}'])), type };
  if (r < 0.55) return { data: Buffer.from('['.repeat(1000 + rng.int(20000))), type: 'application/json' };
  if (r < 0.6) return { data: Buffer.from(rng.pick(['{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"name":"p","__proto__":{"c1":9}}'])), type: 'application/json' };
  if (r < 0.65) return { data: Buffer.from(rng.pick(['[]', '1', '"x"', 'null', 'true', '-0', '1e999'])), type: 'application/json' };
  if (r < 0.72) return { data: Buffer.alloc(60_000 + rng.int(200_000), 0x20), type: 'application/json' };
  if (r < 0.8) return { data: rng.bytes(1 + rng.int(4000)), type };
  if (r < 0.85) return { data: Buffer.alloc(0), type: 'application/json' };
  return { data: Buffer.from(`name=${rng.text(20)}&c1=1e308`), type: 'application/x-www-form-urlencoded' };
}

/** One malformed or hostile request that node:http can send. `identities`: X-Forwarded-For values spreading the load. */
export function fuzzRequest(rng: Rng, ctx: FuzzContext, identities: readonly string[]): FuzzRequest {
  const m = rng.next();
  const method = m < 0.35 ? 'GET' : m < 0.7 ? 'POST' : m < 0.8 ? 'DELETE' : m < 0.85 ? 'PUT' : m < 0.9 ? 'PATCH' : m < 0.95 ? 'HEAD' : 'OPTIONS';
  const headers: Record<string, string> = {};
  const a = rng.next();
  const admin = a >= 0.45 && a < 0.6;
  if (a < 0.15) headers.authorization = `Bearer ${rng.chance(0.1) ? rng.text(4000) : rng.chance(0.3) ? ctx.admin.slice(0, -1) + 'X' : rng.text(8 + rng.int(60))}`;
  else if (a < 0.2) headers.authorization = rng.pick(['Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer a b', 'bearer\t' + ctx.viewer + 'x', 'Token x', rng.text(200), `Bearer ${ctx.admin} ${ctx.admin}`]);
  else if (a < 0.45) { if (rng.chance(0.8)) headers.authorization = `Bearer ${ctx.viewer}`; }
  else if (admin) headers.authorization = `Bearer ${ctx.admin}`;
  else if (a < 0.75) headers.cookie = rng.pick([`hsfl_session=${rng.text(43)}`, `hsfl_session=${rng.text(8000)}`, 'hsfl_session=a; hsfl_session=b', '=;;;=', '%%%', 'hsfl_session="', `a=${rng.text(30)}; hsfl_session=`, `hsfl_session=${ctx.viewerCookie.split('=')[1]}x`]);
  else if (a < 0.82) headers.cookie = ctx.viewerCookie;
  const unsafe = method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
  let traversal = false;
  let path: string;
  if (rng.chance(0.06)) {
    path = rng.pick(TRAVERSAL);
    traversal = true;
  } else {
    path = rng.pick(ROUTES).replace('ID', idFor(rng, ctx, admin && unsafe)) + rng.pick(QUERIES);
    if (rng.chance(0.02)) path = path + '/' + rng.text(4000 + rng.int(6000)).replace(/[?#%]/g, 'x');
  }
  if (rng.chance(0.85)) headers['x-forwarded-for'] = rng.chance(0.95) ? rng.pick(identities) : rng.pick(['not-an-ip', '999.1.1.1', `${'1.2.3.4, '.repeat(200)}5.6.7.8`, '::ffff:', '']);
  if (rng.chance(0.1)) headers['x-forwarded-proto'] = rng.pick(['https', 'http', 'gopher', 'https, http', '']);
  if (rng.chance(0.2)) headers.origin = rng.pick(['http://evil.example', 'null', 'http://127.0.0.1', '://', rng.text(50)]);
  if (rng.chance(0.1)) headers['x-csrf-token'] = rng.pick(['', rng.text(43), rng.text(2000)]);
  if (rng.chance(0.03)) headers['sec-fetch-site'] = 'cross-site';
  if (rng.chance(0.03)) headers.range = rng.pick(['bytes=0-1,5-9,999999999-', 'bytes=-1', 'bytes=x', `bytes=${'0-1,'.repeat(300)}0-1`]);
  if (rng.chance(0.03)) headers['if-none-match'] = rng.text(100);
  if (rng.chance(0.03)) headers['x-huge'] = rng.text(rng.chance(0.7) ? 6000 + rng.int(8000) : 20_000 + rng.int(30_000));
  if (rng.chance(0.02)) for (let i = rng.int(300); i > 0; i--) headers[`x-h${i}`] = rng.text(10);
  let data: Buffer | undefined;
  if (unsafe && rng.chance(0.75)) {
    const b = body(rng, ctx, admin);
    data = b.data;
    if (b.type) headers['content-type'] = b.type;
  }
  return { method, path, headers, body: data, traversal };
}

/** A byte stream no HTTP client library would send. */
export function rawRequest(rng: Rng, ctx: FuzzContext): Buffer {
  const h = 'Host: 127.0.0.1\r\n';
  const cases: (() => string | Buffer)[] = [
    () => 'GARBAGE\r\n\r\n',
    () => `GET /api/health HTTP/1.1\r\n${h}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST /api/runs HTTP/1.1\r\n${h}Authorization: Bearer ${ctx.admin}\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"fuzz":1}`,
    () => `GET /api/health HTTP/1.1\r\n${h}Bad Header Line\r\n\r\n`,
    () => `POST /api/runs HTTP/1.1\r\n${h}Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n`,
    () => `GET /\u0000 HTTP/1.1\r\n${h}\r\n`,
    () => `GET /api/health HTTP/9.9\r\n${h}\r\n`,
    () => `POST /api/login HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"tok`,
    () => rng.bytes(1 + rng.int(4000)),
    () => `GET /api/health HTTP/1.1\r\n${h}X-Big: ${'a'.repeat(70_000)}\r\n\r\n`,
    () => `CONNECT 127.0.0.1:22 HTTP/1.1\r\n${h}\r\n`,
    () => `TRACE / HTTP/1.1\r\n${h}\r\n`,
    () => 'GET /api/health HTTP/1.0\r\n\r\n',
    () => `GET /api/health HTTP/1.1\r\n${h}\r\n`.repeat(50),
    () => Buffer.concat([Buffer.from('GET /'), rng.bytes(20).map((b) => (b < 0x21 ? 0x80 + b : b)), Buffer.from(` HTTP/1.1\r\n${h}\r\n`)]),
    () => `POST /api/runs HTTP/1.1\r\n${h}Authorization: Bearer ${ctx.viewer}\r\nContent-Length: -1\r\n\r\n`,
    () => `POST /api/runs HTTP/1.1\r\n${h}Content-Length: 1\r\nContent-Length: 2\r\n\r\n{}`,
    () => `GET /api/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`,
    () => `GET /api/health HTTP/1.1\r\n${h}Cookie: hsfl_session=${'\u00ff'.repeat(100)}\r\n\r\n`,
    () => `G\u00c9T /api/health HTTP/1.1\r\n${h}\r\n`,
    () => `GET http://evil.example/api/health HTTP/1.1\r\n${h}\r\n`,
  ];
  const c = rng.pick(cases)();
  return typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
}

/** The first byte of a TLS connection (a handshake record); the server hands anything else the cleartext refusal. */
export const TLS_HANDSHAKE = 0x16;

/**
 * Cleartext bytes for a TLS port: plain HTTP requests (some of them with a
 * real token, which must do nothing), the raw cases above unencrypted, and
 * garbage, some of it dressed as a TLS record. `http`: whether it reads as
 * an HTTP request line.
 */
export function cleartextBytes(rng: Rng, ctx: FuzzContext): { data: Buffer; http: boolean } {
  const h = 'Host: 127.0.0.1\r\n';
  const json = '{"name":"cleartext"}';
  const cases: (() => string | Buffer)[] = [
    () => `GET /api/health HTTP/1.1\r\n${h}\r\n`,
    () => 'GET / HTTP/1.0\r\n\r\n',
    () => `POST /api/runs HTTP/1.1\r\n${h}Authorization: Bearer ${ctx.admin}\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`,
    () => `POST /api/login HTTP/1.1\r\n${h}Content-Type: application/json\r\nContent-Length: ${ctx.admin.length + 12}\r\n\r\n{"token":"${ctx.admin}"}`,
    () => `GET /api/runs HTTP/1.1\r\n${h}Cookie: ${ctx.viewerCookie}\r\n\r\n`,
    () => `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n${h}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    () => rawRequest(rng, ctx),
    () => rawRequest(rng, ctx),
    () => rawRequest(rng, ctx),
    // Garbage, and garbage that starts like a TLS record: that one goes to the TLS layer, which must drop it quietly.
    () => rng.bytes(1 + rng.int(2000)),
    () => Buffer.from([rng.int(256)]),
    () => Buffer.concat([Buffer.from([TLS_HANDSHAKE, 0x03, rng.int(5)]), rng.bytes(rng.int(600))]),
    () => Buffer.concat([Buffer.from([TLS_HANDSHAKE, 0x03, 0x01, 0xff, 0xff]), rng.bytes(rng.int(100))]),
    () => Buffer.concat([Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01]), rng.bytes(rng.int(60))]),
    () => Buffer.from([0x17, 0x03, 0x03, 0x00, 0x10, ...rng.bytes(16)]),
  ];
  const c = rng.pick(cases)();
  const data = typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
  return { data, http: /^[A-Z]{3,10} [^\r\n]* HTTP\/\d\.\d\r\n/.test(data.toString('latin1')) };
}

export interface Answer {
  /** The HTTP status, or 0 when the server closed the connection without one. */
  status: number;
  body: string;
}

/**
 * Sends one request over `agent` (https when it is an https.Agent, which
 * carries the CA to trust and any client certificate); never rejects (a
 * connection the server drops is status 0).
 */
export function send(port: number, agent: HttpAgent | HttpsAgent, r: FuzzRequest): Promise<Answer> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: Answer) => {
      if (done) return;
      done = true;
      resolve(a);
    };
    const headers: Record<string, string> = { ...r.headers };
    if (r.body) headers['content-length'] = String(r.body.length);
    const request = agent instanceof HttpsAgent ? httpsRequest : httpRequest;
    let req;
    try {
      req = request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent, timeout: 20_000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          // Only the start of a body is kept (enough to look for leaked files); the rest is drained.
          if (size < 4096) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
        res.on('error', () => finish({ status: res.statusCode ?? 0, body: '' }));
      });
    } catch {
      // node:http refused to send it (e.g. a header it considers invalid): not a server answer.
      finish({ status: -1, body: '' });
      return;
    }
    req.on('error', () => finish({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end(r.body);
  });
}

export interface RawAnswer {
  /** The statuses of whatever the server answered before closing. */
  statuses: number[];
  /** The start of what came back (latin1). */
  text: string;
  /** Whether the TLS handshake completed (false for cleartext). */
  secured: boolean;
}

/**
 * Writes raw bytes on a fresh connection, over TLS when `tls` is given
 * (the CA to trust, any client certificate) or in cleartext, and half-closes.
 */
export function sendRaw(port: number, data: Buffer, tls?: ConnectionOptions): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let secured = false;
    const sock: Socket = tls
      ? tlsConnect({ host: '127.0.0.1', port, ...tls }, () => (secured = true))
      : netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => sock.destroy(), 5000);
    sock.on('data', (c: Buffer) => {
      if (size < 64 * 1024) chunks.push(c);
      size += c.length;
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ statuses: [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1])), text: text.slice(0, 4096), secured });
    });
    sock.write(data, () => sock.end());
  });
}
