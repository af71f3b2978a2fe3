import { strict as assert } from 'node:assert';
import { ProtocolError } from '@hsfl/protocol';
import { AGGREGATORS, aggregatorFor, fedAvgAggregator } from './aggregator.js';

const f = (...v: number[]) => Float32Array.from(v);
const close = (a: Float32Array, b: number[]) => {
  assert.equal(a.length, b.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-6, `[${i}] ${v} != ${b[i]}`));
};

describe('aggregators', () => {
  it('fedavg weighs copies by samples', () => {
    const out = fedAvgAggregator.combine([
      { weights: [f(1, 2), f(10)], samples: 1 },
      { weights: [f(4, 8), f(40)], samples: 3 },
    ]);
    assert.equal(out.length, 2);
    close(out[0]!, [(1 + 12) / 4, (2 + 24) / 4]);
    close(out[1]!, [(10 + 120) / 4]);
  });

  it('fedavg ignores copies that trained on no sample', () => {
    const out = fedAvgAggregator.combine([
      { weights: [f(100, 100)], samples: 0 },
      { weights: [f(2, 4)], samples: 5 },
      { weights: [f(-7, 7)], samples: 0 },
    ]);
    close(out[0]!, [2, 4]);
  });

  it('fedavg of a single copy returns its weights (and does not alias them)', () => {
    const w = f(1, 2, 3);
    const out = fedAvgAggregator.combine([{ weights: [w], samples: 2 }]);
    close(out[0]!, [1, 2, 3]);
    out[0]![0] = 99;
    assert.equal(w[0], 1);
  });

  it('fedavg throws when no copy trained on any sample', () => {
    assert.throws(() => fedAvgAggregator.combine([]), /no copy trained/);
    assert.throws(() => fedAvgAggregator.combine([{ weights: [f(1)], samples: 0 }]), /no copy trained/);
  });

  it('aggregatorFor: fedavg by name and by default; unknown name is malformed', () => {
    assert.ok(AGGREGATORS.includes('fedavg'));
    assert.equal(aggregatorFor('fedavg'), fedAvgAggregator);
    assert.equal(aggregatorFor(''), fedAvgAggregator);
    assert.equal(aggregatorFor(undefined), fedAvgAggregator);
    assert.throws(
      () => aggregatorFor('fedprox'),
      (err: unknown) => err instanceof ProtocolError && err.code === 'malformed' && /fedprox/.test(err.message) && /fedavg/.test(err.message),
    );
    assert.throws(() => aggregatorFor('FedAvg'), (err: unknown) => err instanceof ProtocolError && err.code === 'malformed');
  });
});
