import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '@hsfl/cloud-coordinator';
import { serveCoordinator, type ServedCoordinator } from '@hsfl/cloud-coordinator/api';
import { EdgeAggregator } from '@hsfl/edge-aggregator';
import { DeviceAgent } from '@hsfl/device';
import { loadMnist, partition } from '@hsfl/runtime';
import { RecordingLog, TOKEN } from './inproc.js';

export const ADMIN = 'admin-token-for-tests';
export const VIEWER = 'viewer-token-for-tests';

export interface ApiFederation {
  served: ServedCoordinator;
  store: Store;
  base: string;
  edges: EdgeAggregator[];
  devices: DeviceAgent[];
  log: RecordingLog;
  /** Adds edges and their devices (in this process, over real loopback sockets). */
  addFleet(devicesPerEdge: number[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A coordinator with its operations API on loopback (in this process), and
 * optionally a fleet of edges and devices that join it over real sockets.
 */
export async function startApiFederation(opts: { dashboardDir?: string | null } = {}): Promise<ApiFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'hsfl-api-'));
  const store = Store.open(join(dir, 'store.sqlite'));
  const { train, test } = loadMnist();
  const log = new RecordingLog('cloud');
  const served = await serveCoordinator({
    bindHost: '127.0.0.1', port: 0, token: TOKEN, store, testData: () => test, log, backend: 'test',
    adminToken: ADMIN, viewerToken: VIEWER, dashboardDir: opts.dashboardDir ?? null, defaultMetrics: false,
  });
  const edges: EdgeAggregator[] = [];
  const devices: DeviceAgent[] = [];
  let k = 0;
  return {
    served, store, base: `http://127.0.0.1:${served.port}`, edges, devices, log,
    async addFleet(devicesPerEdge) {
      const total = devicesPerEdge.reduce((a, b) => a + b, 0);
      const shards = partition(train.y, total, { kind: 'iid', seed: 7 });
      let s = 0;
      for (let e = 0; e < devicesPerEdge.length; e++) {
        const id = `edge-${edges.length}`;
        const edge = new EdgeAggregator({
          id, cloudUrl: `http://127.0.0.1:${served.port}`, token: TOKEN, deviceToken: TOKEN,
          bindHost: '127.0.0.1', port: 0, backend: 'test', host: 'localhost', log: new RecordingLog(id),
        });
        const port = await edge.start();
        edges.push(edge);
        for (let j = 0; j < devicesPerEdge[e]!; j++, k++, s++) {
          const dev = new DeviceAgent({
            id: `device-${String(k).padStart(2, '0')}`, edgeUrl: `http://127.0.0.1:${port}`, token: TOKEN, backend: 'test',
            host: 'localhost', data: train, indices: shards[s]!, seed: 1000 + k, log: new RecordingLog(`device-${k}`),
          });
          dev.start();
          devices.push(dev);
        }
      }
    },
    async close() {
      await Promise.all(devices.map((d) => d.stop()));
      await Promise.all(edges.map((e) => e.stop()));
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

export interface RequestOptions {
  auth?: string | { cookie: string };
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** The headers and body of a request, from its options. */
function prepare(o: RequestOptions): { headers: Record<string, string>; body: string | undefined } {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (typeof o.auth === 'string') headers.authorization = `Bearer ${o.auth}`;
  else if (o.auth) headers.cookie = o.auth.cookie;
  let body: string | undefined;
  if (o.rawBody !== undefined) {
    body = o.rawBody;
    headers['content-type'] = o.contentType ?? 'application/json';
  } else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] = o.contentType ?? 'application/json';
  }
  return { headers, body };
}

function reply(status: number, headers: Headers, text: string): Reply {
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status, headers, body: parsed, text };
}

/** One HTTP request; `auth` is a token (Bearer), a cookie header ({ cookie }) or nothing. */
export async function http(base: string, method: string, path: string, o: RequestOptions = {}): Promise<Reply> {
  const { headers, body } = prepare(o);
  const res = await fetch(base + path, { method, headers, body });
  return reply(res.status, res.headers, await res.text());
}

/**
 * http() for an https base: requests go through `agent`, which carries
 * the CA to trust (the project CA; Node's fetch cannot be given one) and,
 * if wanted, a client certificate. Same options, same Reply.
 */
export function httpsVia(agent: HttpsAgent): typeof http {
  return (base, method, path, o = {}) => {
    const { headers, body } = prepare(o);
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise<Reply>((resolve, reject) => {
      const req = httpsRequest(base + path, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const h = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          resolve(reply(res.statusCode ?? 0, h, Buffer.concat(chunks).toString('utf8')));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  };
}
