import assert from 'node:assert/strict';
import { planMemoryViolation, predictRound } from './latency.js';
import { tinyTopology } from './testing/fixtures.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} != ${b}`);

describe('predictRound', () => {
  it('equals the hand-computed formula on a tiny topology (c1=1, c2=2, I1=2, I2=4)', () => {
    const b = predictRound(tinyTopology(), { c1: 1, c2: 2, i1: 2, i2: 4 });
    // Forward. Per device: b*fwd[0,1) + b*(act(1)+label)/up*1000 + rtt/2, 208 bytes each.
    //   d0: 2*1 + 208/10000*1000 + 5 = 27.8; d1: 6 + 2.08 + 1 = 9.08; d2: 4 + 41.6 + 10 = 55.6
    // Edge (n = its samples): arrive + n*fwd[1,2) + n*(act(2)+label)/up*1000 + rtt/2
    //   e0: 27.8 + 4*0.5 + 216/1e5*1000 + 2 = 33.96; e1: 55.6 + 2*0.25 + 108/1e4*1000 + 3 = 69.9
    // Cloud: 6 samples * (0.1 + 0.2) = 1.8
    // Backward. edge: n*act(2)/down*1000 + rtt/2 + n*bwd; device: b*act(1)/down*1000 + rtt/2 + b*bwd
    //   e0: 3 + 4 = 7 -> d0: 7 + 15 + 4 = 26, d1: 7 + 3 + 8 = 18; e1: 13 + 1 = 14 -> d2: 14 + 14 + 2 = 30
    // Path: 69.9 + 1.8 + 30 = 101.7 via d2/e1 both ways.
    // Device-tier aggregation (P1 = 1000 B): up max(e0: max(105, 11) + 12, e1: 210 + 103) = 313,
    //   down max(e0: 7 + max(55, 11), e1: 103 + 30) = 133 -> 446 / I1 = 223
    // Edge-tier aggregation (P2 = 2000 B): up max(22, 203) + down max(12, 203) = 406 / I2 = 101.5
    close(b.deviceCompute, 4 + 2, 'deviceCompute');
    close(b.deviceUp, 51.6, 'deviceUp');
    close(b.edgeCompute, 0.5 + 1, 'edgeCompute');
    close(b.edgeUp, 13.8, 'edgeUp');
    close(b.cloudCompute, 1.8, 'cloudCompute');
    close(b.edgeDown, 13, 'edgeDown');
    close(b.deviceDown, 14, 'deviceDown');
    close(b.aggDevice, 223, 'aggDevice');
    close(b.aggEdge, 101.5, 'aggEdge');
    close(b.total, 101.7 + 223 + 101.5, 'total');
    assert.deepEqual(b.critical, { upDeviceId: 'd2', upEdgeId: 'e1', downEdgeId: 'e1', downDeviceId: 'd2' });
  });

  it('sends raw input and no gradients below the cuts when c1 = c2 = 0', () => {
    const b = predictRound(tinyTopology(), { c1: 0, c2: 0, i1: 1, i2: 1 });
    // d2 is slowest up: 2*(400+4)/5000*1000 + 10 = 171.6; e1: 2*404/1e4*1000 + 3 = 83.8
    // e0: max(d0 80.8+5, d1 8.08+1) = 85.8, + 4*404/1e5*1000 + 2 = 103.96 < 171.6 + 83.8
    close(b.deviceUp, 171.6, 'deviceUp');
    close(b.edgeUp, 83.8, 'edgeUp');
    close(b.cloudCompute, 6 * (9 + 9 + 0.1 + 9 + 9 + 0.2), 'cloudCompute'); // 6 samples, all units fwd + bwd
    for (const k of ['deviceCompute', 'edgeCompute', 'edgeDown', 'deviceDown', 'aggDevice', 'aggEdge'] as const) close(b[k], 0, k);
    close(b.total, 171.6 + 83.8 + b.cloudCompute, 'total');
  });

  it('breakdown fields always sum to total and aggregation is amortised by the interval', () => {
    const t = tinyTopology();
    for (let c1 = 0; c1 <= 3; c1++) {
      for (let c2 = c1; c2 <= 3; c2++) {
        const b1 = predictRound(t, { c1, c2, i1: 1, i2: 1 });
        const b5 = predictRound(t, { c1, c2, i1: 5, i2: 3 });
        const parts = b5.deviceCompute + b5.deviceUp + b5.edgeCompute + b5.edgeUp + b5.cloudCompute + b5.edgeDown + b5.deviceDown + b5.aggDevice + b5.aggEdge;
        close(parts, b5.total, `sum c=${c1},${c2}`);
        close(b5.aggDevice * 5, b1.aggDevice, 'aggDevice / I1');
        close(b5.aggEdge * 3, b1.aggEdge, 'aggEdge / I2');
      }
    }
  });

  it('skips edge-tier aggregation when only one edge has devices', () => {
    const t = tinyTopology();
    t.devices[2].edgeId = 'e0';
    assert.equal(predictRound(t, { c1: 1, c2: 3, i1: 1, i2: 1 }).aggEdge, 0);
    assert.ok(predictRound(t, { c1: 1, c2: 3, i1: 1, i2: 1 }).aggDevice > 0);
  });

  it('rejects malformed plans', () => {
    assert.throws(() => predictRound(tinyTopology(), { c1: 2, c2: 1, i1: 1, i2: 1 }), /0 <= c1 <= c2 <= L=3/);
    assert.throws(() => predictRound(tinyTopology(), { c1: 0, c2: 4, i1: 1, i2: 1 }), RangeError);
    assert.throws(() => predictRound(tinyTopology(), { c1: 0, c2: 1, i1: 0, i2: 1 }), /intervals/);
  });

  it('reports memory violations (weights + grads + b * per-sample memory)', () => {
    const t = tinyTopology();
    // Default per-sample memory = 3 * output bytes: c1 = 1 needs 2*1000 + 2*300 = 2600 B.
    t.devices[1].memFreeBytes = 2599;
    assert.match(planMemoryViolation(t, { c1: 1, c2: 1, i1: 1, i2: 1 }) ?? '', /device "d1" needs 2600 B for units \[0,1\) but has 2599 B/);
    assert.equal(planMemoryViolation(t, { c1: 0, c2: 3, i1: 1, i2: 1 }), null);
    t.devices[1].memFreeBytes = 2600;
    assert.equal(planMemoryViolation(t, { c1: 1, c2: 1, i1: 1, i2: 1 }), null);
    t.model.memPerSampleBytes = [1000, 0, 0];
    assert.match(planMemoryViolation(t, { c1: 1, c2: 1, i1: 1, i2: 1 }) ?? '', /needs 4000 B/);
    // Edge e0 trains [1,3) on its 4 samples: 2*2500 + 4*0 = 5000 B; [0,3): 2*3500 + 4*1000 = 11000 B.
    t.devices[1].memFreeBytes = 1e9;
    t.edges[0].memFreeBytes = 4999;
    assert.match(planMemoryViolation(t, { c1: 1, c2: 3, i1: 1, i2: 1 }) ?? '', /edge "e0" needs 5000 B for units \[1,3\)/);
    assert.match(planMemoryViolation(t, { c1: 0, c2: 3, i1: 1, i2: 1 }) ?? '', /edge "e0" needs 11000 B/);
    t.edges[0].memFreeBytes = 5000;
    assert.equal(planMemoryViolation(t, { c1: 1, c2: 3, i1: 1, i2: 1 }), null);
    t.cloud.memFreeBytes = 100; // cloud [1,3) on 6 samples: 2*2500 = 5000 B
    assert.match(planMemoryViolation(t, { c1: 1, c2: 1, i1: 1, i2: 1 }) ?? '', /cloud needs 5000 B for units \[1,3\)/);
  });
});
