import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Coordinator, Store, DEFAULT_TRIAL, DEFAULT_DEPARTED_REPORTS_KEPT, type TrialConfig } from '@hsfl/cloud-coordinator';
import { EdgeAggregator } from '@hsfl/edge-aggregator';
import { EVENTS, MAX_DEVICES_PER_EDGE, Role, type MessageInitOf } from '@hsfl/protocol';
import { initBackend, loadMnist, modelInfo } from '@hsfl/runtime';
import { RecordingLog, TOKEN, until } from './helpers/inproc.js';
import { RoguePeer } from './helpers/rogue.js';

const MODEL = 'mlp-mnist';
/** These tests churn hundreds of ids from one address: the per-address limit is not what they are about. */
const OPEN = { connectBurst: 1e6, connectPerSecond: 1e6 };

function capacityReport(nodeId: string, role: Role, parentId: string): MessageInitOf<typeof EVENTS.capacityReport> {
  const L = modelInfo(MODEL).numUnits;
  const per = (v: number) => Array.from({ length: L }, () => v);
  return {
    nodeId, role, parentId, backend: 'cpu', host: 'h', model: MODEL, batchSize: 8, fwdMsPerSample: per(0.1), bwdMsPerSample: per(0.2),
    peakBytes: per(1000), memTotalBytes: 1e9, memFreeBytes: 5e8, upBytesPerSec: 1e7, downBytesPerSec: 1e7, rttMs: 1, cpus: 4, measuredAtMs: Date.now(),
  };
}

/** The coordinator's and the edge's tables keyed by ids that nodes choose (test-only view of private state). */
const fleetDevices = (c: Coordinator) => (c as unknown as { fleet: { devices: Map<string, Map<string, unknown>> } }).fleet.devices;
const edgeSamples = (e: EdgeAggregator) => (e as unknown as { deviceSamples: { size: number } }).deviceSamples.size;

describe('tables keyed by node ids stay bounded as nodes join and leave', function () {
  this.timeout(180000);
  let dir: string;
  let store: Store;
  let coord: Coordinator;
  let edge: EdgeAggregator;
  let cloudUrl: string;
  let edgeUrl: string;
  let running: Promise<unknown>;
  const rogues: RoguePeer[] = [];

  /** A raw peer that joins with `nodeId` and role; resolves once it is welcomed, or with the refusal's code. */
  async function joinAs(url: string, nodeId: string, role: Role): Promise<{ peer: RoguePeer; refused?: string }> {
    const peer = new RoguePeer(url);
    rogues.push(peer);
    await peer.connected();
    peer.send(EVENTS.hello, { nodeId, role, token: TOKEN, backend: 'cpu', numSamples: 10, software: 't', host: 'h' });
    const welcomed = () => peer.received.some((r) => r.event === EVENTS.welcome);
    await until(() => welcomed() || peer.errors.length > 0, 10000, `${nodeId} to be welcomed or refused`);
    return { peer, refused: welcomed() ? undefined : peer.errors[0]!.code };
  }

  async function leave(peer: RoguePeer): Promise<void> {
    peer.close();
    rogues.splice(rogues.indexOf(peer), 1);
  }

  before(async () => {
    await initBackend();
    dir = mkdtempSync(join(tmpdir(), 'hsfl-bounds-'));
    store = Store.open(join(dir, 'store.sqlite'));
    const { test } = loadMnist();
    coord = new Coordinator({
      bindHost: '127.0.0.1', port: 0, token: TOKEN, store, testData: () => test, log: new RecordingLog('cloud'), backend: 'test',
      maxEdges: 6, linkLimits: OPEN,
    });
    // A run that waits for a fleet that never assembles: edges and devices are welcomed and reported meanwhile.
    const trial: TrialConfig = { ...DEFAULT_TRIAL, model: MODEL, c1: 1, c2: 2, minEdges: 100, minDevices: 1000, joinTimeoutMs: 600000 };
    const run = coord.createRun(trial);
    cloudUrl = `http://127.0.0.1:${await coord.start()}`;
    running = coord.startRun(run.id).catch((e: unknown) => e);
    edge = new EdgeAggregator({
      id: 'edge-0', cloudUrl, token: TOKEN, deviceToken: TOKEN, bindHost: '127.0.0.1', port: 0, backend: 'test', host: 'h',
      log: new RecordingLog('edge'), linkLimits: OPEN,
    });
    edgeUrl = `http://127.0.0.1:${await edge.start()}`;
    await until(() => coord.topology().some((e) => e.id === 'edge-0'), 30000, 'edge-0 to join');
  });

  after(async () => {
    for (const r of rogues.splice(0)) r.close();
    await edge?.stop();
    await coord?.close();
    await running;
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`the edge serves at most ${MAX_DEVICES_PER_EDGE} devices; after 300 distinct ids came and went its tables and the cloud's hold none of them`, async () => {
    const first = await Promise.all(Array.from({ length: MAX_DEVICES_PER_EDGE + 6 }, (_, i) => joinAs(edgeUrl, `dev-a${i}`, Role.ROLE_DEVICE)));
    assert.equal(first.filter((j) => j.refused === undefined).length, MAX_DEVICES_PER_EDGE);
    assert.deepEqual([...new Set(first.filter((j) => j.refused).map((j) => j.refused))], ['limit']);
    assert.equal(edge.connectedDevices.length, MAX_DEVICES_PER_EDGE);
    await until(() => fleetDevices(coord).get('edge-0')?.size === MAX_DEVICES_PER_EDGE, 20000, 'the cloud to list them');
    for (const j of first) await leave(j.peer);
    await until(() => edge.connectedDevices.length === 0, 20000, 'every device to leave');
    // Churn: distinct ids, each reporting its capacity through the edge.
    for (let batch = 0; batch < 10; batch++) {
      const joined = await Promise.all(Array.from({ length: 30 }, (_, i) => joinAs(edgeUrl, `dev-b${batch}-${i}`, Role.ROLE_DEVICE)));
      for (const [i, j] of joined.entries()) {
        assert.equal(j.refused, undefined);
        j.peer.send(EVENTS.capacityReport, capacityReport(`dev-b${batch}-${i}`, Role.ROLE_DEVICE, 'edge-0'));
      }
      await until(() => [...coord.capacity.keys()].filter((k) => k.startsWith(`dev-b${batch}-`)).length === 30, 20000, `batch ${batch}'s reports`);
      for (const j of joined) await leave(j.peer);
      await until(() => edge.connectedDevices.length === 0 && (fleetDevices(coord).get('edge-0')?.size ?? 0) === 0, 20000, `batch ${batch} to leave`);
    }
    assert.equal(edgeSamples(edge), 0);
    assert.ok(coord.capacity.size <= DEFAULT_DEPARTED_REPORTS_KEPT + 2, `${coord.capacity.size} capacity reports kept`);
    assert.equal(coord.capacity.departedCount, DEFAULT_DEPARTED_REPORTS_KEPT, 'the last departed are kept for a reconnect');
  });

  it('the coordinator serves at most maxEdges edges, each with at most MAX_DEVICES_PER_EDGE devices; edges that leave take their devices along', async () => {
    const edges = await Promise.all(Array.from({ length: 8 }, (_, i) => joinAs(cloudUrl, `rogue-edge-${i}`, Role.ROLE_EDGE)));
    assert.equal(edges.filter((j) => j.refused === undefined).length, 5, 'edge-0 and five more: maxEdges 6');
    assert.deepEqual([...new Set(edges.filter((j) => j.refused).map((j) => j.refused))], ['limit']);
    const ok = edges.filter((j) => j.refused === undefined);
    for (const [k, j] of ok.entries()) {
      const id = `rogue-edge-${edges.indexOf(j)}`;
      for (let d = 0; d < MAX_DEVICES_PER_EDGE + 10; d++) {
        j.peer.send(EVENTS.nodeStatus, { nodeId: `e${k}-d${d}`, role: Role.ROLE_DEVICE, parentId: id, connected: true, backend: 'cpu', numSamples: 1, host: 'h', reason: '' });
      }
    }
    await until(() => ok.every((j) => j.peer.errors.length === 10), 20000, 'the devices beyond the limit to be refused');
    assert.ok(ok.every((j) => j.peer.errors.every((e) => e.code === 'limit')));
    for (const j of ok) assert.equal(fleetDevices(coord).get(`rogue-edge-${edges.indexOf(j)}`)?.size, MAX_DEVICES_PER_EDGE);
    for (const j of edges) await leave(j.peer);
    await until(() => coord.topology().length === 1, 20000, 'the rogue edges to leave');
    assert.deepEqual([...fleetDevices(coord).keys()], ['edge-0']);
    assert.equal(coord.deviceCount(), 0);
  });
});
