import assert from 'node:assert/strict';
import { Codec, DType, decodeTensor, encodeTensor, roundToHalf, tensorInfo, MAX_RANK } from './index.js';
import { __setHostLittleEndianForTests } from './tensor.js';
import { rng, randomFloats, throwsCode } from './test-helpers.js';

describe('tensor codec', () => {
  it('round-trips raw float32 and int32 of any rank, including scalars and empty tensors', () => {
    const rand = rng(10);
    const cases: [number[], number][] = [[[], 1], [[0], 0], [[0, 3], 0], [[7], 7], [[2, 3, 4], 24], [[1, 1, 1, 1, 1, 1, 1, 2], 2]];
    for (const [shape, n] of cases) {
      const f = randomFloats(n, rand, 1e6);
      const df = decodeTensor(encodeTensor(f, shape));
      assert.equal(df.dtype, 'float32');
      assert.deepEqual(df.shape, shape);
      assert.deepEqual(Array.from(df.data), Array.from(f));
      const i = Int32Array.from({ length: n }, () => Math.floor((rand() - 0.5) * 2 ** 32));
      const di = decodeTensor(encodeTensor(i, shape));
      assert.equal(di.dtype, 'int32');
      assert.deepEqual(Array.from(di.data), Array.from(i));
    }
  });

  it('encodes raw tensors without copying, and rejects inconsistent input', () => {
    const f = new Float32Array([1, 2, 3, 4]);
    const t = encodeTensor(f, [2, 2]);
    assert.equal(t.data.buffer, f.buffer);
    assert.equal(t.dtype, DType.DTYPE_FLOAT32);
    throwsCode(() => encodeTensor(f, [3]), 'bad_shape');
    throwsCode(() => encodeTensor(f, [2, -2]), 'bad_shape');
    throwsCode(() => encodeTensor(f, [2, 2.5]), 'bad_shape');
    throwsCode(() => encodeTensor(f, new Array(MAX_RANK + 1).fill(1)), 'bad_shape');
    throwsCode(() => encodeTensor(new Int32Array(4), [4], 'fp16'), 'bad_tensor');
    throwsCode(() => encodeTensor(new Float64Array(4) as never, [4]), 'bad_tensor');
    throwsCode(() => encodeTensor(f, [4], 'zip' as never), 'bad_tensor');
  });

  it('decodes aligned raw data as a view on the same bytes and misaligned data as a copy', () => {
    const f = randomFloats(33, rng(11));
    const aligned = new Uint8Array(f.buffer.slice(0));
    const view = decodeTensor({ dtype: DType.DTYPE_FLOAT32, shape: [33], data: aligned });
    assert.equal(view.data.buffer, aligned.buffer);
    assert.equal(view.data.byteOffset, 0);
    view.data[0] = 42; // a view: writes show through
    assert.equal(new Float32Array(aligned.buffer)[0], 42);

    const holder = new Uint8Array(f.byteLength + 1);
    holder.set(new Uint8Array(f.buffer), 1);
    const mis = decodeTensor({ dtype: DType.DTYPE_FLOAT32, shape: [33], data: holder.subarray(1) });
    assert.notEqual(mis.data.buffer, holder.buffer);
    assert.deepEqual(Array.from(mis.data), Array.from(f));

    const copied = decodeTensor({ dtype: DType.DTYPE_FLOAT32, shape: [33], data: aligned }, { copy: true });
    assert.notEqual(copied.data.buffer, aligned.buffer);
  });

  it('fp16: every binary16 value survives exactly; others round to nearest even within 2^-11 relative', () => {
    const all = new Float32Array(65536);
    let n = 0;
    for (let h = 0; h < 65536; h++) {
      const e = (h >>> 10) & 0x1f;
      if (e === 31) continue; // Inf/NaN tested below
      const s = h & 0x8000 ? -1 : 1;
      const m = h & 0x3ff;
      all[n++] = e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
    }
    const exact = all.subarray(0, n);
    const back = decodeTensor(encodeTensor(exact, [n], 'fp16')).data;
    for (let i = 0; i < n; i++) assert.ok(Object.is(back[i], exact[i]), `binary16 value ${exact[i]} came back as ${back[i]}`);

    const rand = rng(12);
    const x = new Float32Array(20000);
    for (let i = 0; i < x.length; i++) x[i] = (rand() * 2 - 1) * 2 ** Math.floor(rand() * 40 - 24);
    const t = encodeTensor(x, [x.length], 'fp16');
    assert.equal(t.codec, Codec.CODEC_FP16);
    assert.equal(t.data.byteLength, x.length * 2);
    const y = decodeTensor(t).data;
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]!);
      const err = Math.abs(y[i]! - x[i]!);
      if (a >= 2 ** -14) assert.ok(err <= a * 2 ** -11, `${x[i]} -> ${y[i]}`);
      else assert.ok(err <= 2 ** -25, `subnormal ${x[i]} -> ${y[i]}`);
      assert.equal(y[i], roundToHalf(x[i]!));
    }
    // ties go to even
    const ties = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519, -(2 ** -25), 3 * 2 ** -25]);
    assert.deepEqual(Array.from(decodeTensor(encodeTensor(ties, [6], 'fp16')).data), [1, 1 + 2 ** -9, 65504, 65504, -0, 2 ** -23]);
  });

  it('fp16: keeps NaN/Infinity (for the receiver to reject) and refuses finite overflow', () => {
    const special = decodeTensor(encodeTensor(new Float32Array([NaN, Infinity, -Infinity]), [3], 'fp16')).data;
    assert.ok(Number.isNaN(special[0]));
    assert.equal(special[1], Infinity);
    assert.equal(special[2], -Infinity);
    throwsCode(() => encodeTensor(new Float32Array([1, 65520]), [2], 'fp16'), 'bad_tensor');
    throwsCode(() => encodeTensor(new Float32Array([-1e6]), [1], 'fp16'), 'bad_tensor');
  });

  it('fp16: decodes from an odd byte offset', () => {
    const x = new Float32Array([0.5, -1.25, 3]);
    const t = encodeTensor(x, [3], 'fp16');
    const holder = new Uint8Array(7);
    holder.set(t.data, 1);
    assert.deepEqual(Array.from(decodeTensor({ ...t, data: holder.subarray(1) }).data), [0.5, -1.25, 3]);
  });

  it('int8: error at most scale/2 with scale = max|x|/127; zeros stay zeros; NaN refused', () => {
    const rand = rng(13);
    for (const mag of [1e-6, 1, 3.7, 1e4]) {
      const x = randomFloats(5000, rand, mag);
      const t = encodeTensor(x, [50, 100], 'int8');
      assert.equal(t.data.byteLength, 5000);
      let maxAbs = 0;
      for (const v of x) maxAbs = Math.max(maxAbs, Math.abs(v));
      assert.ok(Math.abs(t.scale - maxAbs / 127) <= (maxAbs / 127) * 1e-6);
      const y = decodeTensor(t).data;
      for (let i = 0; i < x.length; i++) {
        assert.ok(Math.abs(y[i]! - x[i]!) <= t.scale * 0.5 * (1 + 1e-5), `${x[i]} -> ${y[i]} (scale ${t.scale})`);
      }
    }
    const z = encodeTensor(new Float32Array(4), [4], 'int8');
    assert.deepEqual(Array.from(decodeTensor(z).data), [0, 0, 0, 0]);
    throwsCode(() => encodeTensor(new Float32Array([1, NaN]), [2], 'int8'), 'not_finite');
    throwsCode(() => encodeTensor(new Float32Array([Infinity]), [1], 'int8'), 'not_finite');
  });

  it('validates byte length, dtype, codec, rank, size and scale on decode', () => {
    const d12 = new Uint8Array(12);
    throwsCode(() => decodeTensor({ dtype: DType.DTYPE_FLOAT32, shape: [4], data: d12 }), 'bad_tensor');
    throwsCode(() => decodeTensor({ dtype: DType.DTYPE_FLOAT32, shape: [2], data: d12 }), 'bad_tensor');
    throwsCode(() => decodeTensor({ dtype: DType.DTYPE_FLOAT32, shape: [3], data: d12, codec: Codec.CODEC_FP16 }), 'bad_tensor');
    throwsCode(() => decodeTensor({ dtype: 3 as DType, shape: [3], data: d12 }), 'bad_tensor');
    throwsCode(() => decodeTensor({ dtype: DType.DTYPE_INT32, shape: [12], data: d12, codec: Codec.CODEC_INT8, scale: 1 }), 'bad_tensor');
    throwsCode(() => decodeTensor({ shape: [12], data: d12, codec: Codec.CODEC_INT8, scale: NaN }), 'bad_tensor');
    throwsCode(() => decodeTensor({ shape: new Array(9).fill(1), data: new Uint8Array(4) }), 'bad_shape');
    throwsCode(() => decodeTensor({ shape: [3], data: d12 }, { maxElements: 2 }), 'limit');
    throwsCode(() => decodeTensor({ shape: [2 ** 31, 2 ** 31], data: d12 }), 'limit');
    throwsCode(() => decodeTensor(null), 'bad_tensor');
    throwsCode(() => decodeTensor({ shape: [3], data: [1, 2, 3] as never }), 'bad_tensor');
    assert.equal(tensorInfo({ shape: [3], data: d12 }).elements, 3);
  });

  it('big-endian hosts: raw values are byte-swapped to and from the little-endian wire, always copied', () => {
    const f = new Float32Array([1.5, -2, 1e-30, 7]);
    const le = encodeTensor(f, [4]).data.slice();
    try {
      __setHostLittleEndianForTests(false);
      const be = encodeTensor(f, [4]);
      // On a real BE host the native bytes are BE and the swap makes them LE;
      // simulated on an LE host, the swap shows as reversed words.
      for (let i = 0; i < 16; i += 4) assert.deepEqual(Array.from(be.data.subarray(i, i + 4)), Array.from(le.subarray(i, i + 4)).reverse());
      const back = decodeTensor(be);
      assert.notEqual(back.data.buffer, be.data.buffer);
      assert.deepEqual(Array.from(back.data), Array.from(f));
      const i32 = new Int32Array([1, -1, 0x12345678]);
      assert.deepEqual(Array.from(decodeTensor(encodeTensor(i32, [3])).data), Array.from(i32));
      assert.deepEqual(Array.from(decodeTensor(encodeTensor(f, [4], 'fp16')).data), Array.from(f).map(roundToHalf));
    } finally {
      __setHostLittleEndianForTests(true);
    }
  });
});
