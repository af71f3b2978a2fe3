// The planner's latency model against the real thing: a federation whose
// devices are unequal emulated hosts (NetLab: network namespaces behind tbf
// rate limits, CFS CPU quotas), the predicted round time (from the capacity
// the nodes measured and reported) within 25% of the measured one.
// Needs root; skips with the reason otherwise. See docs/planner.md
// ("Measured in the lab").
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabFederation, NetLab, meanRoundMsOverCycles, type LabNodeSpec } from '@hsfl/lab';
import { Store, DEFAULT_TRIAL, storedTopology, type TrialConfig } from '@hsfl/cloud-coordinator';
import { predictRound, type Breakdown, type Plan, type Topology } from '@hsfl/planner';

/** 2 edges in the root namespace; 4 devices with unequal CPU quotas and symmetric links (Mbit/s). */
const FLEET: { edge?: LabNodeSpec; devices: LabNodeSpec[] }[] = [
  { devices: [{ cpuFraction: 0.5, upMbit: 20, downMbit: 20 }, { cpuFraction: 0.5, upMbit: 8, downMbit: 8 }] },
  { devices: [{ cpuFraction: 0.25, upMbit: 4, downMbit: 4 }, { cpuFraction: 0.15, upMbit: 2, downMbit: 2 }] },
];
const TOLERANCE = 0.25;

interface LabRun {
  runId: string;
  store: Store;
  /** computeMs of each device's rounds, from its progress lines. */
  deviceCompute: Map<string, number[]>;
}

/**
 * Runs one trial on the lab fleet to the end and hands its store to
 * `inspect`. The lab is always destroyed; the files are removed unless the
 * run failed (the logs' folder is printed then).
 */
async function runInLab(name: string, trial: Partial<TrialConfig>, inspect: (run: LabRun) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `hsfl-labplan-${name}-`));
  const db = join(dir, 'hsfl.sqlite');
  const fed = new LabFederation({
    trial: { ...DEFAULT_TRIAL, name, evalEvery: 0, ...trial },
    fleet: FLEET, partition: 'dirichlet', alpha: 0.5, dataSeed: 1, token: 'lab-planner', db, logDir: join(dir, 'logs'), logLevel: 'warn',
  });
  const deviceCompute = new Map<string, number[]>();
  let keep = false;
  try {
    await fed.start();
    for (const [id, p] of fed.devices) {
      const xs: number[] = [];
      deviceCompute.set(id, xs);
      p.on('line', (m: { type: string; computeMs?: unknown }) => {
        if (m.type === 'round' && typeof m.computeMs === 'number') xs.push(m.computeMs);
      });
    }
    const done = await fed.waitDone(4 * 60 * 1000);
    assert.equal(done.status, 'completed');
    await fed.close();
    const store = Store.open(db);
    try {
      inspect({ runId: done.runId, store, deviceCompute });
    } finally {
      store.close();
    }
  } catch (err) {
    console.log(`    logs of the failed run: ${join(dir, 'logs')}`);
    keep = true;
    throw err;
  } finally {
    await fed.close();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

const ms = (x: number) => `${x.toFixed(0)} ms`;
const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[s.length >> 1]! : NaN;
};

function printComparison(title: string, plan: Plan, b: Breakdown, measured: { meanMs: number; rounds: number; first: number; last: number }): number {
  const err = (b.total - measured.meanMs) / measured.meanMs;
  console.log(`    ${title}: cuts (${plan.c1}, ${plan.c2}), intervals (${plan.i1}, ${plan.i2})`);
  console.log(`      predicted ${ms(b.total)} = device compute ${ms(b.deviceCompute)} + device up ${ms(b.deviceUp)} + edge compute ${ms(b.edgeCompute)} + edge up ${ms(b.edgeUp)}`
    + ` + cloud ${ms(b.cloudCompute)} + edge down ${ms(b.edgeDown)} + device down ${ms(b.deviceDown)} + agg device ${ms(b.aggDevice)} + agg edge ${ms(b.aggEdge)}`);
  console.log(`      critical path: up ${b.critical.upDeviceId} -> ${b.critical.upEdgeId}, down ${b.critical.downEdgeId} -> ${b.critical.downDeviceId}`);
  console.log(`      measured  ${ms(measured.meanMs)} (mean of rounds ${measured.first}-${measured.last}, ${measured.rounds} rounds, whole cycles); error ${(err * 100).toFixed(1)}%`);
  return err;
}

function printFleet(topo: Topology, plan: Plan, deviceCompute: Map<string, number[]>): void {
  for (const d of topo.devices) {
    const spec = FLEET[Number(d.id.split('-')[1])]!.devices[Number(d.id.split('-')[2])]!;
    const sum = (xs: number[]) => xs.slice(0, plan.c1).reduce((a, x) => a + x, 0) * topo.batchSize;
    const measured = median((deviceCompute.get(d.id) ?? []).slice(4));
    console.log(`      ${d.id}: cpu ${spec.cpuFraction}, link ${spec.upMbit}/${spec.downMbit} Mbit -> measured up ${(d.link.upBytesPerSec / 1e3).toFixed(0)} kB/s, down ${(d.link.downBytesPerSec / 1e3).toFixed(0)} kB/s, rtt ${d.link.rttMs.toFixed(1)} ms;`
      + ` compute of units [0,${plan.c1}) predicted ${ms(sum(d.compute.fwdMsPerSample) + sum(d.compute.bwdMsPerSample))}, measured median ${ms(measured)}`);
  }
}

/** The lab really is unequal: the stored link rates follow the tbf limits. */
function checkLinks(topo: Topology): void {
  const byId = new Map(topo.devices.map((d) => [d.id, d]));
  const slow = byId.get('device-1-1')!.link;
  const fast = byId.get('device-0-0')!.link;
  // 2 Mbit/s = 250 kB/s of frames; TCP goodput ~95% of it.
  for (const r of [slow.upBytesPerSec, slow.downBytesPerSec]) assert.ok(r > 0.5 * 250e3 && r < 1.15 * 250e3, `2 Mbit link measured at ${r} B/s`);
  assert.ok(fast.upBytesPerSec > 4 * slow.upBytesPerSec, `20 Mbit link ${fast.upBytesPerSec} B/s vs 2 Mbit ${slow.upBytesPerSec} B/s`);
}

describe('the planner in the lab: predicted vs measured round time on an unequal fleet', function () {
  this.timeout(8 * 60 * 1000);

  before(async function () {
    const support = await NetLab.available();
    if (!support.ok) {
      console.log(`    skipped: NetLab is not available here: ${support.why}`);
      this.skip();
    }
  });

  it('a fixed plan (planner off): predictRound on the stored capacity is within 25% of the measured mean round time', async () => {
    const plan: Plan = { c1: 4, c2: 6, i1: 2, i2: 2 };
    await runInLab('fixed', { ...plan, rounds: 40, planner: 'off' }, (run) => {
      const metrics = run.store.listRoundMetrics(run.runId);
      assert.equal(metrics.length, 40);
      assert.ok(metrics.every((m) => m.devices === 4 && m.lateDevices === 0), 'every device takes part in every round');
      const topo = storedTopology(run.store, run.runId);
      assert.equal(topo.devices.length, 4);
      checkLinks(topo);
      const measured = meanRoundMsOverCycles(metrics, { planVersion: 1, appliedAt: 0, ...plan }, 4)!;
      const predicted = predictRound(topo, plan);
      const err = printComparison('fixed plan', plan, predicted, measured);
      printFleet(topo, plan, run.deviceCompute);
      assert.ok(Math.abs(err) <= TOLERANCE, `predicted ${predicted.total.toFixed(0)} ms vs measured ${measured.meanMs.toFixed(0)} ms (${(err * 100).toFixed(1)}%)`);
    });
  });

  it('--planner auto: the prediction stored with the planner\'s plan is within 25% of the measured rounds under it', async () => {
    const warmup: Plan = { c1: 4, c2: 6, i1: 2, i2: 2 };
    await runInLab('auto', { ...warmup, rounds: 46, planner: 'auto', warmupRounds: 6 }, (run) => {
      const metrics = run.store.listRoundMetrics(run.runId);
      const plans = run.store.listPlans(run.runId);
      assert.ok(plans.length >= 2, `the planner switched plans (plans: ${JSON.stringify(plans.map((p) => p.plan))})`);
      const chosen = plans[1]!;
      // The planner plans from measured capacity before round 0 (applied from
      // round 1) and refines after the warm-up; either may be the first switch.
      assert.match(chosen.reason, /initial plan from measured capacity|warm-up/);
      assert.ok(chosen.appliedAtRound !== null);
      const stored = chosen.plan as Plan;
      const plan: Plan = { c1: stored.c1, c2: stored.c2, i1: stored.i1, i2: stored.i2 };
      const prediction = chosen.prediction as { predictedRoundMs: number; breakdown: Breakdown; rounds: number };
      assert.ok(prediction.predictedRoundMs > 0 && Math.abs(prediction.breakdown.total - prediction.predictedRoundMs) < 1e-6);
      const topo = storedTopology(run.store, run.runId);
      checkLinks(topo);
      const measured = meanRoundMsOverCycles(metrics, { planVersion: 2, appliedAt: chosen.appliedAtRound!, i1: plan.i1, i2: plan.i2 }, 1);
      assert.ok(measured, `whole ${plan.i1}/${plan.i2} cycles under the planner's plan (rounds ${metrics.filter((m) => m.planVersion === 2).length})`);
      const err = printComparison(`planner's plan (applied at round ${chosen.appliedAtRound}, prediction as stored)`, plan, prediction.breakdown, measured);
      // The stored prediction and predictRound on the stored capacity agree (the same capacity, the same model).
      const again = predictRound(topo, plan);
      assert.ok(Math.abs(again.total - prediction.predictedRoundMs) / prediction.predictedRoundMs < 1e-9, `predictRound ${again.total} vs stored ${prediction.predictedRoundMs}`);
      printFleet(topo, plan, run.deviceCompute);
      if (plans.length > 2) console.log(`      later plans: ${plans.slice(2).map((p) => `${JSON.stringify(p.plan)} at round ${p.appliedAtRound} (${p.reason})`).join('; ')}`);
      assert.ok(Math.abs(err) <= TOLERANCE, `predicted ${prediction.predictedRoundMs.toFixed(0)} ms vs measured ${measured.meanMs.toFixed(0)} ms (${(err * 100).toFixed(1)}%)`);
    });
  });
});
