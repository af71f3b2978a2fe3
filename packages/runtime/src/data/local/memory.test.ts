// Streaming must keep memory bounded whatever the data set's size: a few thousand PNGs, several epochs,
// and the heap after the last epoch must be where it was after the first.
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { openLocalDataset } from './open.js';
import { tempDir } from './test-helpers.js';
import { writeMnistImageFolders } from './testdata.js';

/** global.gc if node runs with --expose-gc, else the same function obtained at run time. */
function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function settledMemory(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('streaming memory', function () {
  this.timeout(300_000);
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => ({ dir, remove } = await tempDir('mem')));
  after(() => remove());

  it('streams 3,000 PNGs for 4 epochs with memory flat and at most prefetch x batch samples held', async () => {
    const { declaration, files } = await writeMnistImageFolders(dir, { perClass: 300, split: 'train' });
    assert.equal(files.length, 3000);
    const gc = getGc();
    const base = settledMemory(gc);
    const ds = await openLocalDataset(declaration, dir);
    assert.equal(ds.size, 3000);
    const batchSize = 32;
    const prefetch = 2;
    const it = ds.batches({ batchSize, seed: 7, prefetch });
    const perEpoch = Math.ceil(3000 / batchSize);
    let checksum = 0;
    for (let b = 0; b < perEpoch; b++) checksum += (await it.next()).x[100]!;
    const afterFirst = settledMemory(gc);
    for (let b = 0; b < 3 * perEpoch; b++) checksum += (await it.next()).x[100]!;
    const afterLast = settledMemory(gc);
    await it.close();
    assert.ok(Number.isFinite(checksum));
    assert.ok(it.epoch >= 3, `epoch ${it.epoch}`);
    assert.ok(it.stats.samplesRead <= (4 * perEpoch + prefetch) * batchSize);
    assert.ok(it.stats.maxHeldSamples <= prefetch * batchSize, `held ${it.stats.maxHeldSamples}`);
    const datasetBytes = 3000 * 784 * 4;
    const growth = afterLast - afterFirst;
    const mb = (x: number) => (x / 2 ** 20).toFixed(2);
    console.log(
      `      streaming memory: index + first epoch ${mb(afterFirst - base)} MB, growth over 3 more epochs ${mb(growth)} MB ` +
        `(decoded data set would be ${mb(datasetBytes)} MB); max held ${it.stats.maxHeldSamples} samples`,
    );
    assert.ok(growth < 2 * 2 ** 20, `memory grew by ${mb(growth)} MB over 3 epochs`);
    assert.ok(afterFirst - base < datasetBytes / 2, `first epoch kept ${mb(afterFirst - base)} MB`);
  });
});
