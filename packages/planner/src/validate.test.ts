import assert from 'node:assert/strict';
import { TopologyError } from './errors.js';
import { tinyTopology } from './testing/fixtures.js';
import { randomTopology } from './testing/random.js';
import { topologyFromJson } from './validate.js';

function rejects(mutate: (t: any) => void, path: string, reason: RegExp): void {
  const t: any = JSON.parse(JSON.stringify(tinyTopology()));
  mutate(t);
  assert.throws(() => topologyFromJson(t), (e: unknown) => {
    assert.ok(e instanceof TopologyError, String(e));
    assert.equal(e.path, path, e.message);
    assert.match(e.message, reason);
    return true;
  });
}

describe('topologyFromJson', () => {
  it('accepts valid topologies, as objects or JSON text, and returns a clean copy', () => {
    for (const seed of [1, 2, 3]) {
      const t = randomTopology(seed);
      assert.deepEqual(topologyFromJson(JSON.parse(JSON.stringify(t))), t);
      assert.deepEqual(topologyFromJson(JSON.stringify(t)), t);
    }
    const t = tinyTopology();
    const copy = topologyFromJson(t);
    copy.devices[0].memFreeBytes = 1;
    assert.equal(t.devices[0].memFreeBytes, 1e9);
  });

  it('rejects bad input naming the field and the reason', () => {
    assert.throws(() => topologyFromJson(null), /\(root\): must be an object, got null/);
    assert.throws(() => topologyFromJson('{oops'), /\(root\): not valid JSON/);
    rejects((t) => delete t.model, 'model', /must be an object/);
    rejects((t) => { t.model.units = []; }, 'model.units', /at least one unit/);
    rejects((t) => { t.model.units[1].paramBytes = -5; }, 'model.units[1].paramBytes', /must be >= 0, got -5/);
    rejects((t) => { t.model.units[0].name = ''; }, 'model.units[0].name', /non-empty string/);
    rejects((t) => { t.model.memPerSampleBytes = [1, 2]; }, 'model.memPerSampleBytes', /one entry per model unit \(3\), got 2/);
    rejects((t) => { t.batchSize = 2.5; }, 'batchSize', /must be an integer/);
    rejects((t) => { t.batchSize = 0; }, 'batchSize', /must be > 0/);
    rejects((t) => { t.devices = []; }, 'devices', /at least one device/);
    rejects((t) => { t.devices[1].compute.fwdMsPerSample.pop(); }, 'devices[1].compute.fwdMsPerSample', /one entry per model unit \(3\), got 2/);
    rejects((t) => { t.devices[2].compute.bwdMsPerSample[1] = 'fast'; }, 'devices[2].compute.bwdMsPerSample[1]', /finite number, got "fast"/);
    rejects((t) => { t.devices[0].link.upBytesPerSec = 0; }, 'devices[0].link.upBytesPerSec', /must be > 0, got 0/);
    rejects((t) => { t.devices[0].link.rttMs = null; }, 'devices[0].link.rttMs', /finite number, got null/);
    rejects((t) => { delete t.devices[0].memFreeBytes; }, 'devices[0].memFreeBytes', /is required/);
    rejects((t) => { t.devices[2].edgeId = 'e9'; }, 'devices[2].edgeId', /unknown edge "e9" \(known: e0, e1\)/);
    rejects((t) => { t.devices[1].id = 'd0'; }, 'devices[1].id', /duplicate device id "d0"/);
    rejects((t) => { t.edges[1].id = 'e0'; }, 'edges[1].id', /duplicate edge id/);
    rejects((t) => { t.edges[0].memFreeBytes = -1; }, 'edges[0].memFreeBytes', /must be >= 0/);
    rejects((t) => { t.edges[0].linkk = t.edges[0].link; }, 'edges[0].linkk', /unknown field/);
    rejects((t) => { t.cloud.compute.fwdMsPerSample = 'x'; }, 'cloud.compute.fwdMsPerSample', /must be an array/);
    rejects((t) => { t.edges = {}; }, 'edges', /must be an array, got an object/);
  });
});
