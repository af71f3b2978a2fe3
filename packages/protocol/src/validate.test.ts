import assert from 'node:assert/strict';
import {
  checkCapacityFigures, allFinite, checkHeader, checkLabels, checkWeights, encodeTensor, expectTensor, firstNonFinite,
} from './index.js';
import { rng, randomFloats, throwsCode } from './test-helpers.js';

describe('validation helpers', () => {
  const h = { runId: 'run-1', planVersion: 3, round: 10, sender: 'x' };

  it('checkHeader: accepts the current run/plan/round; any round when none is given', () => {
    checkHeader(h, { runId: 'run-1', planVersion: 3, round: 10 });
    checkHeader(h, { runId: 'run-1', planVersion: 3 });
  });

  it('checkHeader: wrong run, wrong plan, late, repeated, ahead, no round in progress', () => {
    throwsCode(() => checkHeader(h, { runId: 'run-2', planVersion: 3, round: 10 }), 'wrong_run');
    throwsCode(() => checkHeader({ ...h, runId: '' }, { runId: 'run-1', planVersion: 3 }), 'wrong_run');
    throwsCode(() => checkHeader(h, { runId: 'run-1', planVersion: 4, round: 10 }), 'wrong_plan');
    throwsCode(() => checkHeader(h, { runId: 'run-1', planVersion: 2 }), 'wrong_plan');
    throwsCode(() => checkHeader(h, { runId: 'run-1', planVersion: 3, round: 11 }), 'stale');
    throwsCode(() => checkHeader(h, { runId: 'run-1', planVersion: 3, round: 9 }), 'stale');
    throwsCode(() => checkHeader(h, { runId: 'run-1', planVersion: 3, round: -1 }), 'stale');
    throwsCode(() => checkHeader(null, { runId: 'run-1', planVersion: 3 }), 'malformed');
    // run is checked before plan, plan before round
    throwsCode(() => checkHeader(h, { runId: 'other', planVersion: 9, round: 0 }), 'wrong_run');
    throwsCode(() => checkHeader(h, { runId: 'run-1', planVersion: 9, round: 0 }), 'wrong_plan');
  });

  it('expectTensor: shapes with free dimensions, dtype, limits', () => {
    const t = encodeTensor(new Float32Array(2 * 3 * 4), [2, 3, 4]);
    assert.deepEqual(expectTensor(t, { shape: [null, 3, 4], dtype: 'float32' }).shape, [2, 3, 4]);
    assert.deepEqual(expectTensor(t, { shape: [2, 3, 4] }).shape, [2, 3, 4]);
    assert.deepEqual(expectTensor(t).shape, [2, 3, 4]);
    throwsCode(() => expectTensor(t, { shape: [null, 4, 3] }), 'bad_shape');
    throwsCode(() => expectTensor(t, { shape: [null, 12] }), 'bad_shape');
    throwsCode(() => expectTensor(t, { shape: [2, 3, 4, 1] }), 'bad_shape');
    throwsCode(() => expectTensor(t, { dtype: 'int32' }), 'bad_tensor');
    throwsCode(() => expectTensor(t, { maxElements: 23 }), 'limit');
    throwsCode(() => expectTensor(undefined, {}), 'bad_tensor');
    throwsCode(() => expectTensor(null, {}), 'bad_tensor');
  });

  it('expectTensor: NaN, +Infinity, -Infinity are not_finite (raw and fp16); finite:false lets them through', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const codec of ['raw', 'fp16'] as const) {
        const a = new Float32Array(1000);
        a[777] = bad;
        const e = throwsCode(() => expectTensor(encodeTensor(a, [10, 100], codec), { shape: [null, 100] }), 'not_finite');
        assert.match(e.message, /777/);
        expectTensor(encodeTensor(a, [1000], codec), { finite: false });
      }
    }
  });

  it('allFinite agrees with Number.isFinite on random arrays', () => {
    const rand = rng(20);
    for (let k = 0; k < 200; k++) {
      const a = randomFloats(1 + Math.floor(rand() * 300), rand, 1e30);
      if (k % 2) a[Math.floor(rand() * a.length)] = [NaN, Infinity, -Infinity][k % 3]!;
      const ref = Array.from(a).every(Number.isFinite);
      assert.equal(allFinite(a), ref);
      assert.equal(firstNonFinite(a) === -1, ref);
    }
    assert.equal(allFinite(new Float32Array(0)), true);
  });

  it('checkLabels: int32 [n] in [0, numClasses)', () => {
    const ok = checkLabels(encodeTensor(new Int32Array([0, 9, 4]), [3]), 10, 3);
    assert.deepEqual(Array.from(ok), [0, 9, 4]);
    throwsCode(() => checkLabels(encodeTensor(new Int32Array([0, 10, 4]), [3]), 10, 3), 'bad_tensor');
    throwsCode(() => checkLabels(encodeTensor(new Int32Array([0, -1, 4]), [3]), 10, 3), 'bad_tensor');
    throwsCode(() => checkLabels(encodeTensor(new Int32Array([0, 1, 4]), [3]), 10, 4), 'bad_shape');
    throwsCode(() => checkLabels(encodeTensor(new Int32Array([0, 1, 4, 5]), [2, 2]), 10, 4), 'bad_shape');
    throwsCode(() => checkLabels(encodeTensor(new Float32Array([0, 1, 4]), [3]), 10, 3), 'bad_tensor');
    throwsCode(() => checkLabels(undefined, 10, 3), 'bad_tensor');
  });

  it('checkWeights: count, shapes, dtype, finiteness', () => {
    const shapes = [[3, 2], [2]];
    const good = [encodeTensor(new Float32Array(6).fill(0.5), [3, 2]), encodeTensor(new Float32Array([1, 2]), [2])];
    const ws = checkWeights(good, shapes);
    assert.equal(ws.length, 2);
    assert.deepEqual(Array.from(ws[1]!), [1, 2]);
    throwsCode(() => checkWeights(good.slice(0, 1), shapes), 'bad_shape');
    throwsCode(() => checkWeights([good[0]!, encodeTensor(new Float32Array(2), [1, 2])], shapes), 'bad_shape');
    throwsCode(() => checkWeights([good[0]!, encodeTensor(new Int32Array(2), [2])], shapes), 'bad_tensor');
    throwsCode(() => checkWeights([good[0]!, encodeTensor(new Float32Array([1, NaN]), [2])], shapes), 'not_finite');
    const e = throwsCode(() => checkWeights([good[0]!, null], shapes), 'bad_tensor');
    assert.match(e.message, /weights\[1\]/);
    assert.deepEqual(checkWeights([], []), []);
  });
});

describe('checkCapacityFigures', () => {
  const report = () => ({
    nodeId: 'd', role: 0, parentId: 'e', backend: 'wasm', host: 'h', model: 'm', batchSize: 32,
    fwdMsPerSample: [0.1, 0.2], bwdMsPerSample: [0.3, 0.4], peakBytes: [10, 20], memTotalBytes: 1, memFreeBytes: 1,
    upBytesPerSec: 1e6, downBytesPerSec: 1e6, rttMs: 2, cpus: 2, measuredAtMs: 0,
  }) as unknown as Parameters<typeof checkCapacityFigures>[0];

  it('accepts one finite value per unit and finite link figures; refuses wrong lengths, NaN and negatives', () => {
    checkCapacityFigures(report(), 2);
    assert.throws(() => checkCapacityFigures(report(), 3), (e: unknown) => (e as { code: string }).code === 'bad_shape');
    const nan = report();
    nan.bwdMsPerSample[1] = Number.NaN;
    assert.throws(() => checkCapacityFigures(nan, 2), (e: unknown) => (e as { code: string }).code === 'bad_shape');
    const neg = report();
    neg.rttMs = -1;
    assert.throws(() => checkCapacityFigures(neg, 2), (e: unknown) => (e as { code: string }).code === 'not_finite');
    const inf = report();
    inf.upBytesPerSec = Infinity;
    assert.throws(() => checkCapacityFigures(inf, 2), (e: unknown) => (e as { code: string }).code === 'not_finite');
  });
});
