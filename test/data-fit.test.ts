// A run whose model the devices' data cannot train (cnn-cifar expects
// 32x32x3, the devices hold 28x28x1 digits): every device is refused at its
// edge with the reason, the console and the store say so once per device,
// no round runs, the run fails when the fleet never assembles, and every
// process stays up and stops on request (issue 10's "cnn-cifar hangs").
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFederation, type ProgressLine } from '@hsfl/lab';
import { DEFAULT_TRIAL, Store } from '@hsfl/cloud-coordinator';

describe('devices whose data does not fit the run\'s model', function () {
  this.timeout(5 * 60 * 1000);
  let dir: string;
  let fed: LocalFederation | undefined;

  after(async () => {
    await fed?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('are refused at their edge with the reason, reported once each, and the run fails to assemble instead of hanging; nothing crashes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsfl-fit-'));
    const db = join(dir, 'hsfl.sqlite');
    fed = new LocalFederation({
      trial: { ...DEFAULT_TRIAL, name: 'misfit', model: 'cnn-cifar', rounds: 5, evalEvery: 0, planner: 'off', joinTimeoutMs: 15000 },
      edges: 1, devicesPerEdge: 2, partition: 'iid', alpha: 1, dataSeed: 1, token: 'unused', db, logDir: join(dir, 'logs'),
    });
    const lines: ProgressLine[] = [];
    await fed.start();
    fed.onProgress((m) => lines.push(m));
    // A fleet that never assembles fails the run, and the coordinator exits saying why.
    const code = await fed.coordinator!.exited;
    assert.notEqual(code, 0);
    assert.match(fed.coordinator!.stderr(), /0\/2 devices joined within 15000 ms/);
    const runId = fed.runId;
    assert.equal(lines.filter((l) => l.type === 'round').length, 0, 'no round ran');
    for (const id of fed.deviceIds) {
      assert.ok(fed.devices.get(id)!.alive, `${id} is still running (it keeps retrying for a run that fits)`);
      assert.ok(fed.edges.get('edge-0')!.proc.alive, 'the edge is still running');
      const log = readFileSync(join(dir, 'logs', `${id}.log`), 'utf8');
      assert.match(log, /bad_shape/);
      assert.match(log, /28x28x1 per sample but the run's model cnn-cifar expects 32x32x3/);
    }
    const store = Store.open(db);
    try {
      const refused = store.listEvents({ runId }).filter((e) => e.kind === 'device_refused');
      assert.deepEqual(refused.map((e) => e.nodeId).sort(), [...fed.deviceIds].sort(), 'one device_refused event per device');
      assert.equal(store.getRun(runId)!.status, 'failed');
    } finally {
      store.close();
    }
    await fed.stop();
    for (const p of fed.started) assert.equal(p.alive, false, `${p.name} stopped`);
  });
});
