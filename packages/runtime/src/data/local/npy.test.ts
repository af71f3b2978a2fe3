import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { syntheticDataset } from '../synthetic.js';
import { DataError } from './errors.js';
import { encodeNpy, npyPreamble, parseNpyHeader } from './npy-format.js';
import { openNpy } from './npy.js';
import { openLocalDataset } from './open.js';
import { tempDir, thrown } from './test-helpers.js';
import { npyDeclaration, writeNpyDataset } from './testdata.js';

/** A version-2.0 file as np.save writes for huge headers: 4-byte header length. */
function npyV2(values: Float32Array, shape: number[]): Uint8Array {
  const v1 = encodeNpy(values, shape, 'f4');
  const hlen = new DataView(v1.buffer).getUint16(8, true);
  const header = v1.subarray(10, 10 + hlen);
  const pad = 2; // keep 16-byte alignment irrelevant: the reader uses the header's own length
  const out = new Uint8Array(12 + hlen + pad + (v1.length - 10 - hlen));
  out.set(v1.subarray(0, 6));
  out[6] = 2;
  out[7] = 0;
  new DataView(out.buffer).setUint32(8, hlen + pad, true);
  out.set(header.subarray(0, hlen - 1), 12);
  out.fill(0x20, 12 + hlen - 1, 12 + hlen - 1 + pad);
  out[12 + hlen + pad - 1] = 0x0a;
  out.set(v1.subarray(10 + hlen), 12 + hlen + pad);
  return out;
}

describe('npy format', () => {
  it('parses headers of versions 1 and 2 and refuses what it cannot read, saying why', () => {
    const v1 = encodeNpy([1, 2, 3, 4, 5, 6], [2, 3], 'f8');
    const p = npyPreamble(v1);
    assert.equal((p.headerStart + p.headerLen) % 64, 0, 'data aligned to 64 bytes');
    const h = parseNpyHeader(Buffer.from(v1.subarray(p.headerStart, p.headerStart + p.headerLen)).toString('latin1'), p.version, p.headerStart + p.headerLen);
    assert.deepEqual({ dtype: h.dtype, shape: h.shape, itemSize: h.itemSize }, { dtype: 'f8', shape: [2, 3], itemSize: 8 });
    const v2 = npyV2(Float32Array.from([1, 2]), [2]);
    assert.deepEqual(npyPreamble(v2).version, [2, 0]);
    assert.throws(() => npyPreamble(new TextEncoder().encode('PK\u0003\u0004 zip file')), /not a \.npy file/);
    assert.throws(() => parseNpyHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", [1, 0], 64), /big-endian/);
    assert.throws(() => parseNpyHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", [1, 0], 64), /Fortran order/);
    assert.throws(() => parseNpyHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", [1, 0], 64), /dtype '<c8' is not supported/);
    assert.throws(() => parseNpyHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", [1, 0], 64), /structured/);
    assert.deepEqual(parseNpyHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", [1, 0], 64).shape, []);
  });
});

describe('npy data', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('npy')));
  afterEach(() => remove());
  const data = syntheticDataset([6, 5, 2], 3, 40, 11);
  const names = ['r', 'g', 'b'];

  for (const xDtype of ['f4', 'f8', 'u1', 'i4'] as const) {
    it(`reads ${xDtype} arrays with int64 labels back (values, labels, order)`, async () => {
      const loc = await writeNpyDataset(dir, data, { xDtype });
      const ds = await openLocalDataset(npyDeclaration([6, 5, 2], names, xDtype), dir);
      assert.equal(ds.size, 40);
      assert.deepEqual(Array.from(ds.labels), Array.from(data.y));
      const got = await ds.load();
      for (let i = 0; i < got.x.length; i++) {
        const want = xDtype === 'f4' || xDtype === 'f8' ? data.x[i]! : Math.fround(Math.round(data.x[i]! * 255) * (1 / 255));
        if (got.x[i] !== want) assert.fail(`value ${i}: ${got.x[i]} != ${want}`);
      }
      assert.equal(ds.report.location, `${loc.x} + y.npy`);
    });
  }

  it('reads only the rows a batch needs (shuffled rows, adjacent ones coalesced) and reads v2 files', async () => {
    await fsp.writeFile(path.join(dir, 'x.npy'), npyV2(data.x, [40, 6, 5, 2]));
    await fsp.writeFile(path.join(dir, 'y.npy'), encodeNpy(data.y, [40], 'u1'));
    const ds = await openLocalDataset(npyDeclaration([6, 5, 2], names), { x: path.join(dir, 'x.npy'), y: path.join(dir, 'y.npy') });
    const want = [7, 3, 4, 5, 39, 0];
    const out = new Float32Array(want.length * 60);
    const failures = await ds.source.read(want, [0, 1, 2, 3, 4, 5], out);
    assert.deepEqual(failures, []);
    want.forEach((i, k) => assert.deepEqual(out.subarray(k * 60, (k + 1) * 60), data.x.subarray(i * 60, (i + 1) * 60)));
  });

  it('accepts arrays that differ from inputShape only by size-1 axes ([N,28,28] for [28,28,1])', async () => {
    const d = syntheticDataset([4, 4, 1], 2, 5, 1);
    await fsp.writeFile(path.join(dir, 'x.npy'), encodeNpy(d.x, [5, 4, 4], 'f4'));
    await fsp.writeFile(path.join(dir, 'y.npy'), encodeNpy(d.y, [5, 1], 'i4'));
    const ds = await openLocalDataset(npyDeclaration([4, 4, 1], ['a', 'b']), dir);
    assert.deepEqual((await ds.load()).x, d.x);
  });

  it('refuses a shape mismatch before reading data, with both shapes in the message', async () => {
    await writeNpyDataset(dir, data);
    let e = await thrown(() => openLocalDataset(npyDeclaration([28, 28, 1], names), dir));
    assert.ok(e instanceof DataError);
    assert.equal(e.code, 'shape-mismatch');
    assert.match(e.message, /holds samples of shape \[6, 5, 2\] \(array \[40, 6, 5, 2\]\) but the declaration's inputShape is \[28, 28, 1\]/);
    await fsp.writeFile(path.join(dir, 'y.npy'), encodeNpy(data.y.subarray(0, 39), [39], 'i8'));
    e = await thrown(() => openLocalDataset(npyDeclaration([6, 5, 2], names), dir));
    assert.equal(e.code, 'shape-mismatch');
    assert.match(e.message, /y\.npy has shape \[39\] but .*x\.npy has 40 samples/);
  });

  it('refuses labels outside the classes, float labels, truncated and non-npy files', async () => {
    await writeNpyDataset(dir, data);
    const bad = Int32Array.from(data.y);
    bad[17] = 3;
    await fsp.writeFile(path.join(dir, 'y.npy'), encodeNpy(bad, [40], 'i8'));
    let e = await thrown(() => openLocalDataset(npyDeclaration([6, 5, 2], names), dir));
    assert.equal(e.code, 'unknown-label');
    assert.match(e.message, /row 17 has label 3, outside the 3 declared classes \(0\.\.2: r, g, b\)/);
    await fsp.writeFile(path.join(dir, 'y.npy'), encodeNpy(data.y, [40], 'f4'));
    e = await thrown(() => openLocalDataset(npyDeclaration([6, 5, 2], names), dir));
    assert.match(e.message, /holds floats/);
    await fsp.writeFile(path.join(dir, 'y.npy'), encodeNpy(data.y, [40], 'i8'));
    const x = await fsp.readFile(path.join(dir, 'x.npy'));
    await fsp.writeFile(path.join(dir, 'x.npy'), x.subarray(0, x.length - 100));
    e = await thrown(() => openLocalDataset(npyDeclaration([6, 5, 2], names), dir));
    assert.equal(e.code, 'format');
    assert.match(e.message, /truncated: its header promises 2400 values/);
    await fsp.writeFile(path.join(dir, 'x.npy'), 'hello');
    e = await thrown(() => openLocalDataset(npyDeclaration([6, 5, 2], names), dir));
    assert.match(e.message, /x array .*x\.npy: not a \.npy file/);
    e = await thrown(() => openLocalDataset(npyDeclaration([6, 5, 2], names), path.join(dir, 'missing')));
    assert.equal(e.code, 'format');
  });

  it("skips rows holding NaN: at opening with verify 'full', else when read", async () => {
    const x = Float32Array.from(data.x);
    x[5 * 60 + 7] = NaN;
    x[30 * 60] = Infinity;
    await fsp.writeFile(path.join(dir, 'x.npy'), encodeNpy(x, [40, 6, 5, 2], 'f4'));
    await fsp.writeFile(path.join(dir, 'y.npy'), encodeNpy(data.y, [40], 'i8'));
    const full = await openLocalDataset(npyDeclaration([6, 5, 2], names), dir, { verify: 'full' });
    assert.equal(full.size, 38);
    assert.equal(full.report.skippedByReason['non-numeric'], 2);
    assert.deepEqual(full.report.skipped.map((s) => s.where.replace(/.*row /, '')), ['5', '30']);
    const loaded = await full.load();
    assert.deepEqual(loaded.x.subarray(5 * 60, 6 * 60), data.x.subarray(6 * 60, 7 * 60), 'row 6 follows row 4');
    const lazy = await openLocalDataset(npyDeclaration([6, 5, 2], names), dir);
    assert.equal(lazy.size, 40);
    assert.equal((await lazy.load()).n, 38);
    assert.equal(lazy.report.usable, 38);
    assert.ok(lazy.source.isBad(5) && lazy.source.isBad(30));
  });
});
