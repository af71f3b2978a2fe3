import { strict as assert } from 'node:assert';
import { MAX_DEVICES_PER_EDGE, ProtocolError } from '@hsfl/protocol';
import { SampleLedger, checkRoundDone, type RoundReport } from './reports.js';

function report(over: Partial<RoundReport> = {}): RoundReport {
  return {
    header: { runId: 'r', planVersion: 1, round: 3, sender: 'edge-1' },
    samples: 32,
    computeMs: 12.5,
    maxChildComputeMs: 9,
    waitMs: 3,
    bytesDownUp: 1000,
    bytesDownDown: 2000,
    late: ['dev-2'],
    gradSqStart: 1,
    gradSq: [0.5, 0, 2],
    ...over,
  };
}

function refused(m: RoundReport, code: string, numUnits = 6): void {
  assert.throws(() => checkRoundDone(m, numUnits), (err: unknown) => err instanceof ProtocolError && err.code === code, JSON.stringify(m));
}

describe('checkRoundDone', () => {
  it('accepts a sound report and returns it', () => {
    const m = report();
    assert.equal(checkRoundDone(m, 6), m);
    assert.equal(checkRoundDone(report({ late: [], gradSq: [], gradSqStart: 0, samples: 0, computeMs: 0 }), 6).samples, 0);
    // gradient statistics reaching exactly the top of the model
    checkRoundDone(report({ gradSqStart: 3, gradSq: [1, 1, 1] }), 6);
  });

  for (const field of ['samples', 'computeMs', 'maxChildComputeMs', 'waitMs', 'bytesDownUp', 'bytesDownDown'] as const) {
    it(`refuses NaN, +-Infinity and negative ${field}`, () => {
      for (const v of [NaN, Infinity, -Infinity, -1, -1e-9]) refused(report({ [field]: v }), 'not_finite');
    });
  }

  it('refuses computeMs NaN (it once ended a run)', () => {
    refused(report({ computeMs: NaN }), 'not_finite');
  });

  it('refuses NaN, Infinity or negative gradient statistics', () => {
    for (const v of [NaN, Infinity, -Infinity, -0.1]) refused(report({ gradSq: [1, v] }), 'not_finite');
  });

  it('refuses gradient statistics beyond the model', () => {
    refused(report({ gradSqStart: 0, gradSq: new Array(7).fill(1) }), 'bad_shape');
    refused(report({ gradSqStart: 4, gradSq: [1, 1, 1] }), 'bad_shape');
    refused(report({ gradSqStart: 6, gradSq: [1] }), 'bad_shape');
    refused(report({ gradSqStart: 0, gradSq: [1] }), 'bad_shape', 0);
  });

  it('refuses malformed late ids and more late ids than a tier holds', () => {
    refused(report({ late: ['ok', 'not ok'] }), 'malformed');
    refused(report({ late: [''] }), 'malformed');
    refused(report({ late: ['x'.repeat(65)] }), 'malformed');
    refused(report({ late: Array.from({ length: MAX_DEVICES_PER_EDGE + 1 }, (_, i) => `d${i}`) }), 'malformed');
    checkRoundDone(report({ late: Array.from({ length: MAX_DEVICES_PER_EDGE }, (_, i) => `d${i}`) }), 6);
  });
});

describe('SampleLedger', () => {
  it('sums per child and in total, and resets', () => {
    const l = new SampleLedger();
    assert.equal(l.total, 0);
    assert.equal(l.of('a'), 0);
    l.add('a', 8);
    l.add('b', 4);
    l.add('a', 2);
    assert.equal(l.of('a'), 10);
    assert.equal(l.of('b'), 4);
    assert.equal(l.of('c'), 0);
    assert.equal(l.total, 14);
    assert.deepEqual(l.toJSON(), { a: 10, b: 4 });
    assert.equal(JSON.stringify(l), '{"a":10,"b":4}');
    l.reset();
    assert.equal(l.total, 0);
    assert.equal(l.of('a'), 0);
    assert.deepEqual(l.toJSON(), {});
  });
});
