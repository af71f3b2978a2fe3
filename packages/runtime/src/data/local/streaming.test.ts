import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BatchIterator } from '../batch.js';
import { syntheticDataset } from '../synthetic.js';
import { DataError } from './errors.js';
import { encodeNpy } from './npy-format.js';
import { openLocalDataset } from './open.js';
import { heldOutSplit } from './split.js';
import type { StreamingDataset } from './streaming.js';
import { tempDir, thrown } from './test-helpers.js';
import { mnistImageDeclaration, npyDeclaration, writeMnistImageFolders, writeNpyDataset } from './testdata.js';

describe('heldOutSplit', () => {
  it('is seeded, disjoint, covering, and holds out the fraction of every class', () => {
    const labels = Int32Array.from({ length: 1000 }, (_, i) => (i % 10 < 7 ? 0 : i % 10 < 9 ? 1 : 2));
    const a = heldOutSplit(labels, { fraction: 0.2, seed: 5 });
    assert.deepEqual(a, heldOutSplit(labels, { fraction: 0.2, seed: 5 }));
    assert.notDeepEqual(a.heldOut, heldOutSplit(labels, { fraction: 0.2, seed: 6 }).heldOut);
    const all = [...a.train, ...a.heldOut].sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: 1000 }, (_, i) => i));
    const count = (idx: Int32Array, c: number) => idx.filter((i) => labels[i] === c).length;
    assert.deepEqual([0, 1, 2].map((c) => count(a.heldOut, c)), [140, 40, 20]);
    const plain = heldOutSplit(labels, { fraction: 0.2, seed: 5, stratify: false });
    assert.equal(plain.heldOut.length, 200);
    assert.equal(heldOutSplit(labels, { fraction: 0, seed: 1 }).heldOut.length, 0);
    assert.throws(() => heldOutSplit(labels, { fraction: 1, seed: 1 }), /fraction must be in \[0, 1\)/);
  });
});

describe('StreamingDataset', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('stream')));
  afterEach(() => remove());
  const data = syntheticDataset([4, 3, 1], 4, 53, 2);

  async function npyDataset(): Promise<StreamingDataset> {
    await writeNpyDataset(dir, data);
    return openLocalDataset(npyDeclaration([4, 3, 1], ['a', 'b', 'c', 'd']), dir);
  }

  it('streams the same batches, in the same order and epochs, as BatchIterator over the data in memory', async () => {
    const ds = await npyDataset();
    const { train } = ds.split({ fraction: 0.25, seed: 9 });
    for (const prefetch of [0, 1, 3]) {
      const it = ds.batches({ indices: train, batchSize: 8, seed: 3, prefetch });
      const ref = new BatchIterator(data, train, 8, 3);
      for (let b = 0; b < 14; b++) {
        const got = await it.next();
        const want = ref.next();
        assert.deepEqual(got.y, want.y, `batch ${b} labels (prefetch ${prefetch})`);
        assert.deepEqual(got.x, want.x, `batch ${b} values`);
        assert.equal(it.epoch, ref.epoch);
      }
      assert.ok(it.stats.maxHeldSamples <= Math.max(prefetch, 1) * 8, `held ${it.stats.maxHeldSamples}`);
      assert.equal(it.stats.batches, 14);
      await it.close();
      await assert.rejects(() => it.next(), /after close/);
    }
  });

  it('gives per-class counts without decoding, and splits for held-out evaluation', async () => {
    const ds = await npyDataset();
    const want = [0, 0, 0, 0];
    for (const y of data.y) want[y]!++;
    assert.deepEqual(ds.classCounts(), want);
    const { train, heldOut } = ds.split({ fraction: 0.2, seed: 1 });
    const sum = ds.classCounts(train).map((c, k) => c + ds.classCounts(heldOut)[k]!);
    assert.deepEqual(sum, want);
    // A pass over the held-out set reads exactly those samples, in order, in short-at-the-end batches.
    const seen: number[] = [];
    const sizes: number[] = [];
    for await (const b of ds.pass({ indices: heldOut, batchSize: 4 })) {
      seen.push(...b.indices);
      sizes.push(b.n);
      b.indices.forEach((i, k) => assert.deepEqual(b.x.subarray(k * 12, (k + 1) * 12), data.x.subarray(i * 12, (i + 1) * 12)));
    }
    assert.deepEqual(seen, Array.from(heldOut));
    assert.deepEqual(sizes.slice(0, -1), sizes.slice(0, -1).map(() => 4));
    // Stopping a pass early leaves nothing running.
    for await (const b of ds.pass({ batchSize: 5, prefetch: 3 })) {
      assert.equal(b.n, 5);
      break;
    }
  });

  it('drops samples that fail to decode during training, keeps batches full, and reports them', async () => {
    const { files } = await writeMnistImageFolders(dir, { perClass: 3, split: 'test' });
    const victim = files[4]!.path;
    const png = Buffer.from(await fsp.readFile(victim));
    for (let i = 40; i < png.length - 20; i++) png[i] ^= 0xff;
    await fsp.writeFile(victim, png);
    const ds = await openLocalDataset(mnistImageDeclaration(), dir);
    assert.equal(ds.size, 30);
    const victimIndex = Array.from({ length: 30 }, (_, i) => i).find((i) => ds.source.describe(i) === victim)!;
    const it = ds.batches({ batchSize: 7, seed: 1 });
    for (let b = 0; b < 12; b++) {
      const batch = await it.next();
      assert.equal(batch.n, 7);
      assert.equal(batch.x.length, 7 * 784);
    }
    await it.close();
    assert.ok(ds.source.isBad(victimIndex));
    assert.equal(ds.report.usable, 29);
    assert.equal(ds.report.skippedByReason['decode-failed'], 1);
    assert.equal(ds.classCounts().reduce((a, b) => a + b, 0), 29);
  });

  it('fails clearly when every sample of a stream is bad', async () => {
    const x = new Float32Array(3 * 12).fill(NaN);
    await fsp.writeFile(path.join(dir, 'x.npy'), encodeNpy(x, [3, 4, 3, 1], 'f4'));
    await fsp.writeFile(path.join(dir, 'y.npy'), encodeNpy([0, 1, 0], [3], 'i8'));
    const ds = await openLocalDataset(npyDeclaration([4, 3, 1], ['a', 'b']), dir);
    const it = ds.batches({ batchSize: 2, seed: 0 });
    const e = await thrown(() => it.next());
    assert.ok(e instanceof DataError);
    assert.equal(e.code, 'empty');
    assert.match(e.message, /every sample of this stream failed to decode \(3 samples\)/);
    assert.equal(e.report?.skippedByReason['non-numeric'], 3);
    await it.close();
  });
});
