import assert from 'node:assert/strict';
import { PlannerError } from './errors.js';
import { planMemoryViolation, predictRound } from './latency.js';
import { tinyTopology } from './testing/fixtures.js';
import { optimize } from './optimize.js';
import { oracle } from './oracle.js';
import { formatPlanReport } from './report.js';
import { defaultSurrogateParams, roundsToTarget } from './surrogate.js';
import { randomSurrogate, randomTopology } from './testing/random.js';
import type { PlannerOptions, PlanResult, Topology } from './types.js';

const TOPOLOGIES = 240; // seeds 1..240 with iMax = 20, each with minC1 = 0 and minC1 = 1
const WIDE = 60; // seeds 241..300 with iMax = 60

function checkResult(r: PlanResult, topo: Topology, opts: PlannerOptions & { iMax: number }, what: string): void {
  const L = topo.model.units.length;
  const { plan } = r;
  assert.equal(planMemoryViolation(topo, plan), null, `${what}: memory violated by ${JSON.stringify(plan)}`);
  assert.ok(plan.c1 >= (opts.minC1 ?? 0) && plan.c1 <= plan.c2 && plan.c2 <= L, `${what}: cuts`);
  assert.ok(plan.i1 >= 1 && plan.i1 <= opts.iMax && plan.i2 >= 1 && plan.i2 <= opts.iMax, `${what}: intervals`);
  assert.ok(Number.isFinite(r.objective), `${what}: objective`);
  const seen = new Set([`${plan.c1},${plan.c2}`]);
  for (const ru of r.runnersUp) {
    const key = `${ru.plan.c1},${ru.plan.c2}`;
    assert.ok(!seen.has(key), `${what}: runner-up cut pair ${key} repeated`);
    seen.add(key);
    assert.equal(planMemoryViolation(topo, ru.plan), null, `${what}: runner-up memory`);
    assert.ok(ru.objective >= r.objective * (1 - 1e-12), `${what}: runner-up beats the chosen plan`);
  }
  assert.ok(r.runnersUp.length <= 5);
}

describe('optimize vs oracle on random topologies', function () {
  this.timeout(120_000);

  it(`stays within 2% of the exhaustive oracle on ${TOPOLOGIES + WIDE} seeded topologies and never violates memory`, () => {
    const gaps: number[] = [];
    let infeasible = 0;
    let evalOpt = 0;
    let evalOracle = 0;
    let worst = { gap: 0, seed: 0, minC1: 0 };
    const cases: Array<{ seed: number; iMax: number; minC1: number }> = [];
    for (let seed = 1; seed <= TOPOLOGIES; seed++) for (const minC1 of [0, 1]) cases.push({ seed, iMax: 20, minC1 });
    for (let seed = TOPOLOGIES + 1; seed <= TOPOLOGIES + WIDE; seed++) cases.push({ seed, iMax: 60, minC1: 0 });
    for (const { seed, iMax, minC1 } of cases) {
      const topo = randomTopology(seed);
      const params = randomSurrogate(seed, topo.model.units.length);
      {
        const opts = { iMax, minC1 };
        let opt: PlanResult | undefined;
        let ora: PlanResult | undefined;
        try {
          ora = oracle(topo, params, opts);
        } catch (e) {
          // Only allowed when no cut pair fits: the optimizer must then fail the same way.
          assert.ok(e instanceof PlannerError, String(e));
          assert.throws(() => optimize(topo, params, opts), PlannerError);
          infeasible++;
          continue;
        }
        opt = optimize(topo, params, opts);
        checkResult(opt, topo, opts, `seed ${seed} optimize`);
        checkResult(ora, topo, opts, `seed ${seed} oracle`);
        const gap = (opt.objective - ora.objective) / ora.objective;
        assert.ok(gap > -1e-9, `seed ${seed}: optimizer beat the oracle (${gap})`);
        assert.ok(gap <= 0.02, `seed ${seed} minC1=${minC1}: gap ${(gap * 100).toFixed(2)}% ${JSON.stringify(opt.plan)} vs ${JSON.stringify(ora.plan)}`);
        gaps.push(Math.max(0, gap));
        if (gap > worst.gap) worst = { gap, seed, minC1 };
        evalOpt += opt.evaluated;
        evalOracle += ora.evaluated;
      }
    }
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    const exact = gaps.filter((g) => g < 1e-12).length;
    console.log(
      `      optimizer vs oracle over ${gaps.length} feasible cases (${TOPOLOGIES} topologies x minC1 in {0,1} at iMax=20, ` +
        `${WIDE} more at iMax=60; ` +
        `${infeasible} infeasible, both raised PlannerError): worst gap ${(worst.gap * 100).toFixed(4)}%` +
        `${worst.gap > 0 ? ` (seed ${worst.seed}, minC1=${worst.minC1})` : ''}, mean gap ${(mean * 100).toFixed(4)}%, ` +
        `exact ${exact}/${gaps.length}; mean evaluations ${Math.round(evalOpt / gaps.length)} vs ${Math.round(evalOracle / gaps.length)}`,
    );
    assert.ok(gaps.length >= 400);
  });
});

describe('optimize', () => {
  it('reports a plan consistent with predictRound and roundsToTarget', () => {
    const topo = randomTopology(7);
    const L = topo.model.units.length;
    const params = randomSurrogate(7, L);
    const r = optimize(topo, params);
    const b = predictRound(topo, r.plan);
    assert.ok(Math.abs(b.total - r.predictedRoundMs) < 1e-9 * b.total);
    assert.deepEqual(r.breakdown, b);
    const devices = topo.devices.length;
    const edges = new Set(topo.devices.map((d) => d.edgeId)).size;
    assert.equal(r.rounds, roundsToTarget(params, r.plan, L, { device: devices, edge: edges }));
    assert.ok(Math.abs(r.objective - r.rounds * r.predictedRoundMs) < 1e-9 * r.objective);
    assert.ok(r.iterations >= 1 && r.evaluated > 0);
  });

  it('is deterministic', () => {
    const topo = randomTopology(11);
    const params = randomSurrogate(11, topo.model.units.length);
    assert.deepEqual(optimize(topo, params), optimize(topo, params));
  });

  it('keeps every unit on fast devices when aggregation is free and links are slow', () => {
    const t = tinyTopology();
    for (const d of t.devices) {
      d.compute = { fwdMsPerSample: [0.001, 0.001, 0.001], bwdMsPerSample: [0.001, 0.001, 0.001] };
      d.link = { upBytesPerSec: 1e3, downBytesPerSec: 1e3, rttMs: 0 };
    }
    t.model.units.forEach((u) => { u.paramBytes = 0; });
    const r = optimize(t, defaultSurrogateParams(t.model.units));
    assert.deepEqual([r.plan.c1, r.plan.c2], [3, 3]); // smallest activations (10 B/sample) cross the slow links
  });

  it('fails with a clear error when no cut pair fits in memory', () => {
    const t = tinyTopology();
    t.devices[1].memFreeBytes = 100; // c1 = 1 needs 2600 B
    const params = defaultSurrogateParams(t.model.units);
    assert.throws(() => optimize(t, params, { minC1: 1 }), (e: unknown) => {
      assert.ok(e instanceof PlannerError);
      assert.match(e.message, /no feasible plan: no cut pair \(c1 >= 1\) fits/);
      assert.match(e.message, /device "d1" needs 2600 B for units \[0,1\) but has 100 B free/);
      return true;
    });
    assert.throws(() => oracle(t, params, { minC1: 1 }), PlannerError);
    // Without the privacy constraint c1 = 0 fits, and the plan respects memory.
    assert.equal(optimize(t, params).plan.c1, 0);
  });

  it('fails with a clear error when the surrogate cannot reach the target', () => {
    const t = tinyTopology();
    const params = { ...defaultSurrogateParams(t.model.units), eps: 0.01, A: 0.02 };
    assert.throws(() => optimize(t, params), /no feasible plan: the convergence surrogate cannot reach the target for any plan \(eps=0.01 <= A=0.02\)/);
  });

  it('rejects bad options', () => {
    const t = tinyTopology();
    const params = defaultSurrogateParams(t.model.units);
    assert.throws(() => optimize(t, params, { iMax: 0 }), /iMax/);
    assert.throws(() => optimize(t, params, { minC1: 4 }), /minC1/);
    assert.throws(() => optimize(t, { ...params, G2: [1] }), /G2/);
  });
});

describe('formatPlanReport', () => {
  it('shows the plan, the per-tier breakdown, rounds, time to target and runners-up', () => {
    const topo = randomTopology(5);
    const r = optimize(topo, randomSurrogate(5, topo.model.units.length));
    const text = formatPlanReport(r, topo);
    assert.match(text, new RegExp(`c1=${r.plan.c1}, c2=${r.plan.c2}`));
    assert.match(text, new RegExp(`I1=${r.plan.i1} .*I2=${r.plan.i2}`));
    for (const s of ['device compute', 'edge -> cloud', 'cloud compute', 'edge-tier aggregation', 'total', 'rounds', 'to target', 'runner-up', 'critical path']) {
      assert.ok(text.includes(s), `missing "${s}"\n${text}`);
    }
    assert.equal(text.split('\n').filter((l) => /^\s+#\d/.test(l)).length, r.runnersUp.length);
  });
});
