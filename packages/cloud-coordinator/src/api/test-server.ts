// Helpers shared by the API tests (not part of the API): a coordinator with
// its operations API listening on a loopback port chosen at run time, over a
// real SQLite file, and plain HTTP requests to it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticDataset } from '@hsfl/runtime';
import type { LogLike } from '@hsfl/protocol';
import { Store } from '../store/index.js';
import { serveCoordinator, type ServeCoordinatorOptions, type ServedCoordinator } from './index.js';

export const ADMIN = 'admin-token-for-api-tests';
export const VIEWER = 'viewer-token-for-api-tests';

/** A LogLike that keeps every line, so tests can check what was logged. */
export class MemoryLog implements LogLike {
  readonly lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  private put(level: string, obj: object, msg?: string) {
    this.lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  }
  debug(obj: object, msg?: string) { this.put('debug', obj, msg); }
  info(obj: object, msg?: string) { this.put('info', obj, msg); }
  warn(obj: object, msg?: string) { this.put('warn', obj, msg); }
  error(obj: object, msg?: string) { this.put('error', obj, msg); }
}

export interface TestApi {
  served: ServedCoordinator;
  store: Store;
  /** The SQLite file. */
  path: string;
  base: string;
  log: MemoryLog;
  close(): Promise<void>;
}

export type TestApiOptions = Partial<Pick<ServeCoordinatorOptions, 'tls' | 'trustedProxy' | 'rateLimit' | 'sessionsPerRole' | 'audit' | 'dashboardDir'>>;

export async function startTestApi(o: TestApiOptions = {}): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'hsfl-api-unit-'));
  const path = join(dir, 'store.sqlite');
  const store = Store.open(path);
  const log = new MemoryLog();
  let served: ServedCoordinator;
  try {
    served = await serveCoordinator({
      bindHost: '127.0.0.1', port: 0, token: 'join-token-for-api-tests', store, log, backend: 'test',
      testData: () => syntheticDataset([28, 28, 1], 10, 8, 1),
      adminToken: ADMIN, viewerToken: VIEWER, dashboardDir: null, defaultMetrics: false, ...o,
    });
  } catch (err) {
    store.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    served, store, path, base: `http://127.0.0.1:${served.port}`, log,
    async close() {
      await served.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** One HTTP request; `auth` is a token (Bearer), a cookie header ({ cookie }) or nothing. */
export async function http(
  base: string, method: string, path: string,
  o: { auth?: string | { cookie: string }; body?: unknown; rawBody?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (typeof o.auth === 'string') headers.authorization = `Bearer ${o.auth}`;
  else if (o.auth) headers.cookie = o.auth.cookie;
  let body: string | undefined;
  if (o.rawBody !== undefined || o.body !== undefined) {
    body = o.rawBody ?? JSON.stringify(o.body);
    headers['content-type'] = o.contentType ?? 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Logs in with a token; the session cookie (as a request header value) and the CSRF token. */
export async function login(base: string, token: string, headers: Record<string, string> = {}): Promise<{ cookie: string; csrfToken: string; reply: Reply }> {
  const reply = await http(base, 'POST', '/api/login', { body: { token }, headers });
  if (reply.status !== 200) throw new Error(`login failed: ${reply.status} ${reply.text}`);
  return { cookie: (reply.headers.get('set-cookie') ?? '').split(';')[0]!, csrfToken: reply.body.csrfToken, reply };
}
