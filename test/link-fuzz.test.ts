import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LocalFederation } from '@hsfl/lab';
import { DEFAULT_TRIAL, ProjectCa, Store, defaultPkiDir, enrollNode } from '@hsfl/cloud-coordinator';
import { Role } from '@hsfl/protocol';
import { fuzzPort, type FuzzIdentity, type FuzzStats } from './helpers/link-fuzzer.js';

/**
 * The identities hostile TLS connections present, enrolled (and two
 * revoked) in the trial's store before its servers start, so that the edge's
 * first revocation list already names them: none of them can join.
 */
function hostileIdentities(db: string, dir: string): { ca: string; edgePort: FuzzIdentity[]; cloudPort: FuzzIdentity[] } {
  const ca = ProjectCa.loadOrCreate(defaultPkiDir(db));
  const foreign = ProjectCa.create(join(dir, 'foreign-pki'));
  const store = Store.open(db);
  try {
    const enroll = (id: string, role: 'device' | 'edge', edge?: string) => enrollNode(store, ca, { id, role, edge }, 'link-fuzz').bundle;
    const insider = enroll('fuzz-insider', 'device', 'edge-0');
    const revoked = enroll('fuzz-revoked', 'device', 'edge-0');
    const elsewhere = enroll('fuzz-elsewhere', 'device', 'edge-9');
    const edgeInsider = enroll('fuzz-edge-insider', 'edge');
    const revokedEdge = enroll('fuzz-revoked-edge', 'edge');
    store.revokeNode('fuzz-revoked', 'link fuzz');
    store.revokeNode('fuzz-revoked-edge', 'link fuzz');
    const foreignDevice = foreign.issue({ role: 'device', id: 'device-0-0', edge: 'edge-0' });
    const foreignEdge = foreign.issue({ role: 'edge', id: 'edge-0' });
    const cred = (b: { cert: string; key: string }) => ({ cert: b.cert, key: b.key });
    return {
      ca: ca.certPem,
      edgePort: [
        { label: 'no certificate', helloId: 'intruder', role: Role.ROLE_DEVICE },
        { label: 'another CA', cert: foreignDevice.certPem, key: foreignDevice.keyPem, helloId: 'device-0-0', role: Role.ROLE_DEVICE },
        { label: 'revoked', ...cred(revoked), helloId: 'fuzz-revoked', role: Role.ROLE_DEVICE },
        { label: 'another id', ...cred(insider), helloId: 'device-0-0', role: Role.ROLE_DEVICE },
        { label: 'another role', ...cred(edgeInsider), helloId: 'fuzz-edge-insider', role: Role.ROLE_DEVICE },
        { label: 'another edge', ...cred(elsewhere), helloId: 'fuzz-elsewhere', role: Role.ROLE_DEVICE },
      ],
      cloudPort: [
        { label: 'no certificate', helloId: 'intruder', role: Role.ROLE_EDGE },
        { label: 'another CA', cert: foreignEdge.certPem, key: foreignEdge.keyPem, helloId: 'edge-0', role: Role.ROLE_EDGE },
        { label: 'revoked', ...cred(revokedEdge), helloId: 'fuzz-revoked-edge', role: Role.ROLE_EDGE },
        { label: 'another id', ...cred(edgeInsider), helloId: 'edge-0', role: Role.ROLE_EDGE },
        { label: 'another role', ...cred(insider), helloId: 'fuzz-insider', role: Role.ROLE_EDGE },
      ],
    };
  } finally {
    store.close();
  }
}

const MiB = 1024 * 1024;
const MESSAGES = 100_000;
/**
 * Bounds this test states. Measured on 2 cores: RSS growth -9 to +24 MiB,
 * ~600 log lines per process (the first failure of each kind from each of
 * the 120 source addresses, plus a count line per busy source and interval).
 * Unbounded, one log line per message would be 100,000+, and before the
 * probe and pre-hello limits a non-reading client grew an edge by ~300 MiB
 * in 4 s.
 */
const MAX_RSS_GROWTH = 64 * MiB;
const MAX_LOG_LINES = 1000;

/** VmRSS of a process, in bytes. */
function vmRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;

/** Every table of the store: a digest of its rows, and the events as rows. */
function snapshot(db: string): { digests: Record<string, string>; events: { id: number; kind: string; message: string }[] } {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const tables = (d.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'events'").all() as { name: string }[]).map((t) => t.name);
    const digests: Record<string, string> = {};
    for (const t of tables) {
      const h = createHash('sha256');
      for (const row of d.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).iterate()) h.update(JSON.stringify(row, (_k, v) => (Buffer.isBuffer(v) ? createHash('sha256').update(v).digest('hex') : v)));
      digests[t] = h.digest('hex');
    }
    const events = d.prepare('SELECT id, kind, message FROM events ORDER BY id').all() as { id: number; kind: string; message: string }[];
    return { digests, events };
  } finally {
    d.close();
  }
}

const sources = (subnet: number) => Array.from({ length: 120 }, (_, i) => `127.0.${subnet}.${i + 2}`);

describe('the link ports under a bounded fuzz (real coordinator and edge processes)', function () {
  this.timeout(10 * 60 * 1000);
  let dir: string;
  let fed: LocalFederation | undefined;

  afterEach(async () => {
    await fed?.stop();
    // HSFL_TEST_KEEP=1 keeps the store and the logs for a look.
    if (process.env.HSFL_TEST_KEEP === '1') process.stdout.write(`      kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it(`${MESSAGES}+ hostile messages to each TLS port, with certificates of another CA, revoked, for another id, role or edge: both stay up with bounded RSS, the store gains only counted refusals, then a device joins and trains`, async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsfl-fuzz-'));
    const db = join(dir, 'hsfl.sqlite');
    const logDir = join(dir, 'logs');
    const token = 'fuzz-token-0123456789';
    fed = new LocalFederation({
      trial: { ...DEFAULT_TRIAL, name: 'fuzz', model: 'mlp-mnist', c1: 1, c2: 2, i1: 1, i2: 1, batchSize: 32, lr: 0.1, rounds: 20, evalEvery: 0, joinTimeoutMs: 600000 },
      edges: 1, devicesPerEdge: 1, partition: 'iid', alpha: 1, dataSeed: 3, token, db, logDir,
    });
    const ids = hostileIdentities(db, dir);
    await fed.startServers();
    const coordinator = fed.coordinator!;
    const edge = fed.edges.get('edge-0')!;
    await coordinator.waitFor((m) => m.type === 'topology' && (m.edges as { id: string }[]).some((e) => e.id === 'edge-0'), 60000, 'edge-0 to join');
    // The edge measures itself on joining the run; wait for its report so that nothing legitimate changes the store during the fuzz.
    const hasReport = () => {
      const d = new Database(db, { readonly: true });
      try {
        return (d.prepare("SELECT count(*) AS n FROM capacity_reports WHERE node_id = 'edge-0'").get() as { n: number }).n > 0;
      } finally {
        d.close();
      }
    };
    for (const end = Date.now() + 60000; !hasReport(); await new Promise((r) => setTimeout(r, 200))) assert.ok(Date.now() < end, 'no capacity report from edge-0');

    const pids = { coordinator: coordinator.pid!, edge: edge.proc.pid! };
    const rssBefore = { coordinator: vmRss(pids.coordinator), edge: vmRss(pids.edge) };
    const logsBefore = { coordinator: lines(join(logDir, 'coordinator.log')), edge: lines(join(logDir, 'edge-0.log')) };
    const before = snapshot(db);

    const t0 = Date.now();
    const common = { messages: MESSAGES, concurrency: 6, idle: 40, hammer: 40 };
    const stats: FuzzStats[] = await Promise.all([
      fuzzPort({ name: 'edge device port', port: edge.port, role: Role.ROLE_DEVICE, token, takenIds: ['device-0-0', 'edge-0'], tls: { ca: ids.ca, identities: ids.edgePort } }, { ...common, seed: 1, sources: sources(1), hammerSource: '127.0.3.1' }),
      fuzzPort({ name: 'coordinator edge port', port: fed.cloudPort, role: Role.ROLE_EDGE, token, takenIds: ['edge-0'], tls: { ca: ids.ca, identities: ids.cloudPort } }, { ...common, seed: 2, sources: sources(2), hammerSource: '127.0.4.1' }),
    ]);
    const fuzzMs = Date.now() - t0;

    assert.ok(coordinator.alive && edge.proc.alive, 'both processes are alive');
    const rssAfter = { coordinator: vmRss(pids.coordinator), edge: vmRss(pids.edge) };
    const logsAfter = { coordinator: lines(join(logDir, 'coordinator.log')), edge: lines(join(logDir, 'edge-0.log')) };
    for (const s of stats) {
      process.stdout.write(`      ${s.target}: ${s.messages} messages over ${s.connections} connections in ${s.ms} ms; server codes ${JSON.stringify(s.codes)}; endings ${JSON.stringify(s.endings)}\n`);
    }
    const growth = { coordinator: rssAfter.coordinator - rssBefore.coordinator, edge: rssAfter.edge - rssBefore.edge };
    const logGrowth = { coordinator: logsAfter.coordinator - logsBefore.coordinator, edge: logsAfter.edge - logsBefore.edge };
    process.stdout.write(`      fuzz ${fuzzMs} ms; RSS growth MiB ${JSON.stringify({ coordinator: +(growth.coordinator / MiB).toFixed(1), edge: +(growth.edge / MiB).toFixed(1) })}; log lines ${JSON.stringify(logGrowth)}\n`);

    for (const s of stats) {
      assert.ok(s.messages >= MESSAGES, `${s.target}: only ${s.messages} messages`);
      assert.equal(s.idleClosed, common.idle, `${s.target}: every idle connection is closed by the server`);
      assert.ok((s.codes.rate_limited ?? 0) >= 1, `${s.target}: the hammering address was told rate_limited`);
      assert.ok((s.codes.unauthorized ?? 0) > 0 && (s.codes.not_joined ?? 0) > 0 && (s.codes.malformed ?? 0) > 0, JSON.stringify(s.codes));
      // Each identity case was refused for its own reason.
      for (const code of ['revoked', 'wrong_id', 'wrong_role']) assert.ok((s.codes[code] ?? 0) > 0, `${s.target}: no ${code} in ${JSON.stringify(s.codes)}`);
      assert.ok(s.target !== 'edge device port' || (s.codes.wrong_edge ?? 0) > 0, JSON.stringify(s.codes));
    }
    assert.ok(growth.coordinator < MAX_RSS_GROWTH, `coordinator RSS grew by ${(growth.coordinator / MiB).toFixed(1)} MiB`);
    assert.ok(growth.edge < MAX_RSS_GROWTH, `edge RSS grew by ${(growth.edge / MiB).toFixed(1)} MiB`);
    assert.ok(logGrowth.coordinator < MAX_LOG_LINES && logGrowth.edge < MAX_LOG_LINES, `log lines ${JSON.stringify(logGrowth)}`);

    // The store: unchanged but for refusal events, at most one per 10 s interval (the first within 20 s of the first refusal).
    let after = snapshot(db);
    for (const end = Date.now() + 25000; !after.events.some((e) => e.kind === 'join_refused') && Date.now() < end; after = snapshot(db)) await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(after.digests, before.digests, 'no table but events changed');
    const added = after.events.slice(before.events.length);
    assert.deepEqual(after.events.slice(0, before.events.length), before.events);
    assert.deepEqual([...new Set(added.map((e) => e.kind))], ['join_refused']);
    assert.ok(added.length <= Math.ceil((Date.now() - t0) / 10000) + 1, `${added.length} refusal events in ${Date.now() - t0} ms`);
    process.stdout.write(`      ${added.length} join_refused events, e.g. "${added[0]!.message}"\n`);

    // A legitimate device still joins, and a short run trains to the end.
    fed.startDevice('device-0-0');
    const done = await fed.waitDone(5 * 60 * 1000);
    assert.equal(done.status, 'completed');
    assert.equal(done.rounds, 20);
    assert.ok(Number.isFinite(done.testLoss), `test loss ${done.testLoss}`);
    assert.ok(done.testAccuracy > 0.3, `test accuracy ${done.testAccuracy} (chance is 0.1)`);
    await fed.stop();
    const store = Store.open(db);
    try {
      const metrics = store.listRoundMetrics(done.runId);
      assert.equal(metrics.length, 20);
      assert.ok(metrics.every((m) => Number.isFinite(m.loss) && m.samples > 0));
    } finally {
      store.close();
    }
  });
});
