import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Coordinator, Store, DEFAULT_TRIAL, type TrialConfig, type RunSummary } from '@hsfl/cloud-coordinator';
import { EdgeAggregator } from '@hsfl/edge-aggregator';
import { DeviceAgent, type BatchSource } from '@hsfl/device';
import { loadMnist, partition, type Dataset } from '@hsfl/runtime';
import type { LogLike } from '@hsfl/protocol';

/** A logger that keeps every line, so tests can assert on what was logged. */
export class RecordingLog implements LogLike {
  readonly lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  constructor(private readonly name: string, private readonly echo = process.env.HSFL_TEST_LOG === '1') {}
  private put(level: string, obj: object, msg?: string) {
    this.lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
    if (this.echo) process.stderr.write(`[${this.name}] ${level} ${msg ?? ''} ${JSON.stringify(obj)}\n`);
  }
  debug(obj: object, msg?: string) { this.put('debug', obj, msg); }
  info(obj: object, msg?: string) { this.put('info', obj, msg); }
  warn(obj: object, msg?: string) { this.put('warn', obj, msg); }
  error(obj: object, msg?: string) { this.put('error', obj, msg); }
  has(level: string, pred: (l: { obj: Record<string, unknown>; msg: string }) => boolean): boolean {
    return this.lines.some((l) => l.level === level && pred(l));
  }
}

export interface InProcessFederation {
  coordinator: Coordinator;
  trial: TrialConfig;
  /** Trains the trial to its end. */
  run(): Promise<RunSummary>;
  edges: EdgeAggregator[];
  devices: DeviceAgent[];
  store: Store;
  logs: { cloud: RecordingLog; edge: RecordingLog[]; device: RecordingLog[] };
  data: Dataset;
  shards: Int32Array[];
  close(): Promise<void>;
}

export const TOKEN = 'test-token';

export function deviceSeed(i: number): number {
  return 1000 + i;
}

/**
 * A federation inside the test process whose roles still talk socket.io
 * over real loopback sockets; lets a test look at every copy's weights.
 */
export async function startInProcess(
  trial: Partial<TrialConfig>,
  layout: {
    devicesPerEdge: number[]; partition?: 'iid' | 'dirichlet'; alpha?: number;
    /** Each device's indices into the MNIST train split (device order); overrides partition. */
    shards?: Int32Array[];
    /** Each device's batch source (device order); overrides its shard of the MNIST train split. */
    sources?: BatchSource[];
  },
): Promise<InProcessFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'hsfl-test-'));
  const store = Store.open(join(dir, 'store.sqlite'));
  const { train, test } = loadMnist();
  const total = layout.devicesPerEdge.reduce((a, b) => a + b, 0);
  const t: TrialConfig = { ...DEFAULT_TRIAL, minEdges: layout.devicesPerEdge.length, minDevices: total, joinTimeoutMs: 30000, ...trial };
  const cloudLog = new RecordingLog('cloud');
  const coordinator = new Coordinator({ bindHost: '127.0.0.1', port: 0, token: TOKEN, store, testData: () => test, log: cloudLog, backend: 'test' });
  const runRow = coordinator.createRun(t);
  const port = await coordinator.start();
  if (layout.sources && layout.sources.length !== total) throw new Error(`${layout.sources.length} sources for ${total} devices`);
  if (layout.shards && layout.shards.length !== total) throw new Error(`${layout.shards.length} shards for ${total} devices`);
  const shards = layout.shards ?? partition(train.y, total, { kind: layout.partition ?? 'iid', alpha: layout.alpha, seed: 7 });
  const edges: EdgeAggregator[] = [];
  const devices: DeviceAgent[] = [];
  const edgeLogs: RecordingLog[] = [];
  const deviceLogs: RecordingLog[] = [];
  let k = 0;
  for (let e = 0; e < layout.devicesPerEdge.length; e++) {
    const log = new RecordingLog(`edge-${e}`);
    edgeLogs.push(log);
    const edge = new EdgeAggregator({
      id: `edge-${e}`, cloudUrl: `http://127.0.0.1:${port}`, token: TOKEN, deviceToken: TOKEN,
      bindHost: '127.0.0.1', port: 0, backend: 'test', host: 'localhost', log,
    });
    const edgePort = await edge.start();
    edges.push(edge);
    for (let j = 0; j < layout.devicesPerEdge[e]!; j++, k++) {
      const dlog = new RecordingLog(`device-${k}`);
      deviceLogs.push(dlog);
      const dev = new DeviceAgent({
        id: `device-${String(k).padStart(2, '0')}`, edgeUrl: `http://127.0.0.1:${edgePort}`, token: TOKEN, backend: 'test',
        host: 'localhost', seed: deviceSeed(k), log: dlog,
        ...(layout.sources ? { source: layout.sources[k]! } : { data: train, indices: shards[k]! }),
      });
      dev.start();
      devices.push(dev);
    }
  }
  return {
    coordinator, edges, devices, store, data: train, shards, trial: t,
    run: () => coordinator.startRun(runRow.id),
    logs: { cloud: cloudLog, edge: edgeLogs, device: deviceLogs },
    async close() {
      await Promise.all(devices.map((d) => d.stop()));
      await Promise.all(edges.map((e) => e.stop()));
      await coordinator.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  if (a.length !== b.length) throw new Error(`weight lists differ in length: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.length !== y.length) throw new Error(`tensor ${i} differs in size: ${x.length} vs ${y.length}`);
    for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j]! - y[j]!));
  }
  return m;
}

/** Polls until pred holds; the wait is on a condition, never a fixed sleep. */
export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
