import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Store } from './index.js';
import { metrics, tempDir } from './test-helpers.js';

const RUN = 'crash-run';
const WEIGHT_BYTES = 48 * 1024; // large enough that the WAL is checkpointed into the main file several times per child

/**
 * Child: continues the run from the last stored round; each round is one
 * transaction (metrics + event + checkpoint), acknowledged on stdout only
 * after commit returns. Runs until killed.
 */
const CHILD = `
const { Store } = await import(process.env.STORE_MODULE);
const { metrics } = await import(process.env.HELPERS_MODULE);
const s = Store.open(process.env.STORE_PATH);
const done = s.listRoundMetrics(${JSON.stringify(RUN)}, { limit: 1 });
let i = done.length ? done[0].round + 1 : 0;
for (;;) {
  s.transaction(() => {
    s.addRoundMetrics(${JSON.stringify(RUN)}, metrics(i));
    s.addEvent({ runId: ${JSON.stringify(RUN)}, level: 'info', kind: 'round.end', nodeId: null, message: 'round ' + i, data: { i } });
    s.saveCheckpoint({ runId: ${JSON.stringify(RUN)}, round: i, kind: 'periodic', modelJson: '{"round":' + i + '}',
      weights: Buffer.alloc(${WEIGHT_BYTES}, i % 251), accuracy: null });
  });
  process.stdout.write(i + '\\n');
  i++;
}
`;

/** Start the writer, SIGKILL it once `acks` more commits have been acknowledged; resolve with the highest acknowledged round. */
function writeUntilKilled(path: string, acks: number, script: string = CHILD): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: {
        ...process.env,
        STORE_PATH: path,
        STORE_MODULE: new URL('./index.js', import.meta.url).href,
        HELPERS_MODULE: new URL('./test-helpers.js', import.meta.url).href,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    let stderr = '';
    let seen = 0;
    let last = -1;
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      if (killed) return; // anything after the kill signal is not counted
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        last = Number(l);
        if (++seen >= acks) {
          killed = true;
          child.kill('SIGKILL'); // mid-stream: the child is busy writing the next round
          break;
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killed) resolve(last);
      else reject(new Error(`writer exited early (code ${code}, signal ${signal}): ${stderr}`));
    });
  });
}

const SYNC_EVERY = 3;
const TIER_FLOATS = 6000;

/** Deterministic weights of the sync checkpoint resuming at `round`: tier t, tensor k. */
const WEIGHTS_OF = `(round, t, k, n) => { const a = new Float32Array(n); for (let j = 0; j < n; j++) a[j] = Math.fround((round * 7919 + t * 104729 + k * 31 + j) / 4096 - 700); return a; }`;
const weightsOf = new Function(`return ${WEIGHTS_OF}`)() as (round: number, t: number, k: number, n: number) => Float32Array;

/**
 * Child: the coordinator's crash-resume loop at store level. On start it
 * rolls back to the latest sync checkpoint (saving one at round 0 the first
 * time) and continues from its round; every SYNC_EVERY-th round is committed
 * together with a sync checkpoint. Runs until killed.
 */
const RESUMING_CHILD = `
const { Store } = await import(process.env.STORE_MODULE);
const { metrics } = await import(process.env.HELPERS_MODULE);
const RUN = ${JSON.stringify(RUN)};
const w = ${WEIGHTS_OF};
const tiers = (round) => ({ deviceWeights: [w(round, 0, 0, ${TIER_FLOATS}), w(round, 0, 1, 10)], edgeWeights: [w(round, 1, 0, ${TIER_FLOATS})], topWeights: [w(round, 2, 0, ${TIER_FLOATS})] });
const s = Store.open(process.env.STORE_PATH);
let c = s.latestSyncCheckpoint(RUN);
if (c) s.rollbackToCheckpoint(RUN, c.round, c.planVersion);
else s.saveSyncCheckpoint(RUN, { round: 0, planVersion: 1, plan: {}, state: { resumedAt: 0 }, ...tiers(0) });
for (let i = c ? c.round : 0; ; i++) {
  const sync = i % ${SYNC_EVERY} === ${SYNC_EVERY - 1};
  s.commitRound(RUN, metrics(i), sync ? { round: i + 1, planVersion: 1, plan: {}, state: { resumedAt: c ? c.round : 0 }, ...tiers(i + 1) } : undefined);
  process.stdout.write(i + '\\n');
}
`;

describe('store durability', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it('keeps every committed row, whole, when the writing process is SIGKILLed mid-stream', async () => {
    const path = join(tmp.dir, 'hsfl.db');
    const s0 = Store.open(path);
    s0.createRun({ id: RUN, name: 'durability', config: { crash: true } });
    s0.close();

    let acknowledged = -1;
    for (const acks of [150, 37, 211]) {
      acknowledged = await writeUntilKilled(path, acks);
      assert.ok(existsSync(path + '-wal'), 'the killed writer left its WAL behind');

      // Integrity of the file as found after the crash, before the store touches it.
      const raw = new Database(path, { readonly: true });
      try {
        assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
        assert.deepEqual(raw.pragma('foreign_key_check'), []);
      } finally {
        raw.close();
      }

      const s = Store.open(path);
      try {
        const rounds = s.listRoundMetrics(RUN);
        // Every acknowledged round is there; at most the one in flight (committed but not yet acknowledged) is extra.
        assert.ok(rounds.length >= acknowledged + 1, `lost committed rounds: have ${rounds.length}, acknowledged up to ${acknowledged}`);
        assert.ok(rounds.length <= acknowledged + 2);
        rounds.forEach((m, i) => assert.deepEqual(m, metrics(i), `round ${i} intact`));

        // Each round's transaction is all or nothing: its event and checkpoint are there too, and nothing else.
        const events = s.listEvents({ runId: RUN, limit: 100_000 });
        assert.deepEqual(events.map((e) => (e.data as { i: number }).i), rounds.map((m) => m.round));
        assert.equal(s.latestCheckpoint(RUN)!.round, rounds.length - 1);
        assert.equal(s.getRun(RUN)!.name, 'durability');
      } finally {
        s.close();
      }
      const db = new Database(path, { readonly: true });
      try {
        const rows = db.prepare('SELECT round, weights FROM checkpoints WHERE run_id = ? ORDER BY round').iterate(RUN) as Iterable<{
          round: number;
          weights: Buffer;
        }>;
        let n = 0;
        for (const c of rows) {
          assert.equal(c.round, n++);
          assert.ok(c.weights.equals(Buffer.alloc(WEIGHT_BYTES, c.round % 251)), `checkpoint blob of round ${c.round} intact`);
        }
        assert.ok(n >= acknowledged + 1);
      } finally {
        db.close();
      }
    }
  });
  it('crash-resume: after each SIGKILL the latest sync checkpoint matches the recorded rounds, and resuming records every round once', async () => {
    const path = join(tmp.dir, 'resume.db');
    const s0 = Store.open(path);
    s0.createRun({ id: RUN, name: 'resume', config: {} });
    s0.close();

    for (const acks of [20, 7, 31]) {
      const acknowledged = await writeUntilKilled(path, acks, RESUMING_CHILD);
      const raw = new Database(path, { readonly: true });
      try {
        assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
      } finally {
        raw.close();
      }
      const s = Store.open(path);
      try {
        const rounds = s.listRoundMetrics(RUN);
        // Rounds are contiguous from 0 and intact: nothing lost, nothing recorded twice.
        rounds.forEach((m, i) => assert.deepEqual(m, metrics(i), `round ${i} intact`));
        assert.ok(rounds.length >= acknowledged + 1 && rounds.length <= acknowledged + 2);
        // The latest checkpoint is the one committed with the last sync round recorded.
        const c = s.latestSyncCheckpoint(RUN)!;
        const lastSync = Math.floor(rounds.length / SYNC_EVERY) * SYNC_EVERY;
        assert.equal(c.round, lastSync, `checkpoint after the last recorded sync round (${rounds.length} rounds)`);
        const expect = (t: number, k: number, n: number) => Buffer.from(weightsOf(c.round, t, k, n).buffer);
        assert.ok(Buffer.from(c.deviceWeights[0]!.buffer).equals(expect(0, 0, TIER_FLOATS)));
        assert.ok(Buffer.from(c.deviceWeights[1]!.buffer).equals(expect(0, 1, 10)));
        assert.ok(Buffer.from(c.edgeWeights[0]!.buffer).equals(expect(1, 0, TIER_FLOATS)));
        assert.ok(Buffer.from(c.topWeights[0]!.buffer).equals(expect(2, 0, TIER_FLOATS)));
        const kept = new Database(path, { readonly: true });
        try {
          assert.ok((kept.prepare('SELECT count(*) FROM sync_checkpoints').pluck().get() as number) <= 2);
        } finally {
          kept.close();
        }
      } finally {
        s.close();
      }
    }
  });
});
