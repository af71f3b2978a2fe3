import { mkdtempSync, rmSync } from 'node:fs';
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

/** One HTTP request; `auth` is a token (Bearer), a cookie header ({ cookie }) or nothing. */
export async function http(
  base: string, method: string, path: string,
  o: { auth?: string | { cookie: string }; body?: unknown; rawBody?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
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
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}
