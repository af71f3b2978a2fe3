// The planner's worth in wall time: time to a target MNIST test accuracy on
// an emulated unequal fleet (NetLab: 4 devices in network namespaces behind
// tbf-limited links with CFS CPU quotas, 2 edges and the coordinator in the
// root namespace), the same fleet, data split and seeds for every plan:
//   - planner: --planner auto (warm-up on the default configured plan, then
//     the planner's choice from the measured capacity, re-planning on drift);
//   - oracle: the exhaustive search's plan on the capacity the planner run
//     stored, run fixed;
//   - fixed baselines: all but the head on devices; one layer on devices; a
//     fixed middle cut with I1 = I2 = 1.
// Ratios: best fixed baseline / planner, planner / oracle (DESIGN.md §8).
// Needs root (NetLab); prints why and writes {skipped} otherwise.
//
//   node bench/dist/planner.js   prints a table, writes bench-results/planner.json
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LabFederation, NetLab, meanRoundMsOverCycles, type LabNodeSpec } from '@hsfl/lab';
import { DEFAULT_TRIAL, Store, storedTopology, type TrialConfig, type RoundMetrics } from '@hsfl/cloud-coordinator';
import { defaultSurrogateParams, optimize, oracle, predictRound, roundsToTarget, type Plan, type Topology } from '@hsfl/planner';

const MODEL = 'cnn-mnist';
const TARGET = 0.9;
const EVAL_EVERY = 2;
/** 2 edges in the root namespace; 4 devices with unequal CPU quotas and symmetric links (Mbit/s). */
const FLEET: { edge?: LabNodeSpec; devices: LabNodeSpec[] }[] = [
  { devices: [{ cpuFraction: 0.5, upMbit: 20, downMbit: 20 }, { cpuFraction: 0.5, upMbit: 8, downMbit: 8 }] },
  { devices: [{ cpuFraction: 0.25, upMbit: 4, downMbit: 4 }, { cpuFraction: 0.15, upMbit: 2, downMbit: 2 }] },
];
/** The planner run's own limit on training time. */
const PLANNER_CAP_MS = 6 * 60 * 1000;
/** Every other run stops at CAP_FACTOR x the planner's time to target (at least MIN_CAP_MS): "slower than that" is all the ratio needs. */
const CAP_FACTOR = 1.5;
const MIN_CAP_MS = 90 * 1000;
/** ... and at most this, so the whole bench stays near 15 minutes. */
const MAX_CAP_MS = 200 * 1000;
const BASELINES: { name: string; plan: Plan; what: string }[] = [
  { name: 'all-but-head', plan: { c1: 6, c2: 6, i1: 2, i2: 1 }, what: 'all but the head on devices, I1 = 2' },
  { name: 'middle-cut', plan: { c1: 2, c2: 5, i1: 1, i2: 1 }, what: 'fixed middle cut, I1 = I2 = 1' },
  { name: 'one-layer', plan: { c1: 1, c2: 6, i1: 1, i2: 1 }, what: 'one layer on devices, the rest but the head on edges, I1 = I2 = 1' },
];

interface PlanRun {
  name: string;
  what: string;
  /** The plan run (for the planner: the one it chose after the warm-up). */
  plan: Plan;
  reached: boolean;
  /**
   * Wall time from the end of round 0 to the end of the first round scored
   * >= TARGET (or to the cap). Round 0 is left out because it is where a
   * fixed-plan run's devices measure their capacity (an auto run does that
   * before round 0).
   */
  timeToTargetMs: number;
  /** The same from the start of round 0. */
  timeFromRound0StartMs: number;
  /** Sum of roundMs over the same rounds (wall time less evaluation and bookkeeping between rounds). */
  trainMsToTarget: number;
  rounds: number;
  bestAccuracy: number;
  meanRoundMs: number;
  /** Mean round time under `plan` over whole aggregation cycles, and the latency model's prediction for it. */
  steadyRoundMs?: number;
  predictedRoundMs?: number;
  capMs: number;
  /** Planner run: rounds on the configured plan before the switch, and what they cost beyond rounds of the chosen plan's steady length. */
  warmupRounds?: number;
  warmupExtraMs?: number;
  plans?: { plan: Plan; appliedAtRound: number | null; reason: string; predictedRoundMs?: number }[];
}

const pick = (p: Plan): Plan => ({ c1: p.c1, c2: p.c2, i1: p.i1, i2: p.i2 });
const fmtPlan = (p: Plan) => `(${p.c1},${p.c2}) I=(${p.i1},${p.i2})`;

/** Runs one trial on the lab fleet until TARGET, the end of `rounds`, or `capMs` of training; returns what the store says. */
async function runPlan(
  name: string, what: string, trial: Partial<TrialConfig>, capMs: number,
): Promise<{ result: PlanRun; topology: Topology }> {
  const dir = mkdtempSync(join(tmpdir(), `hsfl-bench-planner-${name}-`));
  const db = join(dir, 'hsfl.sqlite');
  const fed = new LabFederation({
    trial: { ...DEFAULT_TRIAL, name: `bench-${name}`, model: MODEL, rounds: 1000, evalEvery: EVAL_EVERY, targetAccuracy: TARGET, ...trial },
    fleet: FLEET, partition: 'dirichlet', alpha: 0.5, dataSeed: 1, token: 'bench-planner', db, logDir: join(dir, 'logs'), logLevel: 'warn',
  });
  let keep = false;
  const t0 = Date.now();
  try {
    await fed.start();
    process.stdout.write(`  ${name}: `);
    // Stop at the cap, counted from the end of round 0 (when training is under way on every plan).
    let capTimer: NodeJS.Timeout | undefined;
    const capped = new Promise<'capped'>((resolve) => {
      fed.onProgress((m) => {
        if (m.type !== 'round') return;
        if (m.round === 0) capTimer = setTimeout(() => resolve('capped'), capMs);
        if (typeof m.testAccuracy === 'number' && Number(m.round) % 20 === 19) process.stdout.write(`r${m.round}:${m.testAccuracy.toFixed(3)} `);
      });
    });
    const outcome = await Promise.race([fed.waitDone(capMs + 10 * 60 * 1000), capped]);
    clearTimeout(capTimer);
    process.stdout.write(`${outcome === 'capped' ? 'capped' : 'done'} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    await fed.close();
    const store = Store.open(db);
    try {
      const runId = fed.runId;
      const metrics = store.listRoundMetrics(runId);
      const plans = store.listPlans(runId);
      const topology = storedTopology(store, runId);
      const chosen = plans.length > 1 ? plans[1]! : plans[0]!;
      return { result: summarize(name, what, metrics, plans, chosen, topology, capMs), topology };
    } finally {
      store.close();
    }
  } catch (err) {
    keep = true;
    console.log(`\n  ${name} failed; logs in ${join(dir, 'logs')}`);
    throw err;
  } finally {
    await fed.close();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

function summarize(
  name: string, what: string, metrics: RoundMetrics[], plans: ReturnType<Store['listPlans']>,
  chosen: ReturnType<Store['listPlans']>[number], topology: Topology, capMs: number,
): PlanRun {
  const r0 = metrics[0]!;
  const hit = metrics.find((m) => m.testAccuracy !== null && m.testAccuracy >= TARGET);
  const endIdx = hit ? metrics.indexOf(hit) : metrics.length - 1;
  const span = metrics.slice(1, endIdx + 1);
  const plan = pick(chosen.plan as Plan);
  const steady = meanRoundMsOverCycles(metrics, { planVersion: chosen.version, appliedAt: chosen.appliedAtRound ?? 0, i1: plan.i1, i2: plan.i2 }, chosen.version > 1 ? 1 : 3);
  const stored = chosen.prediction as { predictedRoundMs?: number } | null;
  const before = chosen.version > 1 ? span.filter((m) => m.planVersion < chosen.version) : [];
  return {
    name, what, plan,
    reached: hit !== undefined,
    timeToTargetMs: metrics[endIdx]!.endedAt - r0.endedAt,
    timeFromRound0StartMs: metrics[endIdx]!.endedAt - (r0.endedAt - r0.roundMs),
    trainMsToTarget: span.reduce((a, m) => a + m.roundMs, 0),
    rounds: endIdx + 1,
    bestAccuracy: Math.max(0, ...metrics.slice(0, endIdx + 1).map((m) => m.testAccuracy ?? 0)),
    meanRoundMs: span.length ? span.reduce((a, m) => a + m.roundMs, 0) / span.length : NaN,
    steadyRoundMs: steady?.meanMs,
    predictedRoundMs: stored?.predictedRoundMs ?? predictRound(topology, plan).total,
    capMs,
    ...(before.length && steady ? { warmupRounds: before.length + 1, warmupExtraMs: before.reduce((a, m) => a + m.roundMs, 0) - before.length * steady.meanMs } : {}),
    plans: plans.map((p) => ({
      plan: pick(p.plan as Plan), appliedAtRound: p.appliedAtRound, reason: p.reason,
      predictedRoundMs: (p.prediction as { predictedRoundMs?: number } | null)?.predictedRoundMs,
    })),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const outDir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const support = await NetLab.available();
  if (!support.ok) {
    console.log(`planner bench skipped: NetLab is not available here (${support.why}); it needs root, iproute2 and a CPU cgroup.`);
    const skipped = { skipped: support.why };
    writeFileSync(join(outDir, 'planner.json'), JSON.stringify(skipped, null, 2));
    return skipped;
  }
  const t0 = Date.now();
  console.log(`time to ${TARGET} test accuracy, ${MODEL}, batch 32/device, dirichlet alpha 0.5, seeds 1; devices: ${FLEET.flatMap((e) => e.devices).map((d) => `${d.cpuFraction} core ${d.upMbit}/${d.downMbit} Mbit`).join(', ')}`);

  // 1. The planner, from the default configured plan.
  const planner = await runPlan('planner', `--planner auto (warm-up ${DEFAULT_TRIAL.warmupRounds} rounds on ${fmtPlan(DEFAULT_TRIAL)})`,
    { planner: 'auto' }, PLANNER_CAP_MS);
  const cap = Math.min(MAX_CAP_MS, Math.max(MIN_CAP_MS, CAP_FACTOR * (planner.result.reached ? planner.result.timeToTargetMs : PLANNER_CAP_MS)));

  // 2. The oracle on the capacity the planner run measured. The warm-up's gradient
  // statistics are not stored, so both searches here use the default G2 (parameter shares).
  const topo = planner.topology;
  const params = defaultSurrogateParams(topo.model.units);
  const best = oracle(topo, params, { minC1: 1 });
  const opt = optimize(topo, params, { minC1: 1 });
  const oracleRun = await runPlan('oracle', 'exhaustive search on the stored capacity, run fixed', { ...best.plan, planner: 'off' }, cap);

  // 3. Fixed baselines.
  const baselines: PlanRun[] = [];
  for (const b of BASELINES) baselines.push((await runPlan(b.name, b.what, { ...b.plan, planner: 'off' }, cap)).result);

  const all = [planner.result, oracleRun.result, ...baselines];
  const L = topo.model.units.length;
  const copies = { device: topo.devices.length, edge: topo.edges.length };
  const predicted = (p: Plan) => {
    const roundMs = predictRound(topo, p).total;
    const rounds = roundsToTarget(params, p, L, copies);
    return { roundMs, rounds, timeMs: roundMs * rounds };
  };
  const reachedBaselines = baselines.filter((b) => b.reached);
  const bestBaseline = reachedBaselines.length
    ? reachedBaselines.reduce((a, b) => (b.timeToTargetMs < a.timeToTargetMs ? b : a))
    : baselines.reduce((a, b) => (b.timeToTargetMs < a.timeToTargetMs ? b : a));
  const p = planner.result;
  const o = oracleRun.result;
  const result = {
    model: MODEL, target: TARGET, evalEvery: EVAL_EVERY, batchPerDevice: DEFAULT_TRIAL.batchSize, lr: DEFAULT_TRIAL.lr, partition: 'dirichlet', alpha: 0.5,
    fleet: FLEET, capMs: cap, capRule: `others stop at ${CAP_FACTOR} x the planner's time, clamped to [${MIN_CAP_MS / 1000}, ${MAX_CAP_MS / 1000}] s`,
    runs: all.map((r) => ({ ...r, model: predicted(r.plan) })),
    oracle: { plan: best.plan, objective: best.objective, optimizerPlan: opt.plan, optimizerGap: opt.objective / best.objective - 1, surrogate: 'default (G2 = parameter shares)' },
    bestBaseline: bestBaseline.name,
    /** > 1: the planner is faster. A lower bound when the best baseline did not reach the target. */
    bestBaselineOverPlanner: bestBaseline.timeToTargetMs / p.timeToTargetMs,
    bestBaselineReached: bestBaseline.reached,
    /** <= 1.1 is the aim; a lower bound when the oracle's run was capped. */
    plannerOverOracle: p.timeToTargetMs / o.timeToTargetMs,
    /** The headroom on this fleet: the oracle's plan, run fixed from round 0, against the best fixed baseline. */
    bestBaselineOverOracle: bestBaseline.timeToTargetMs / o.timeToTargetMs,
    /** Planner run: extra time of its warm-up rounds (on the configured plan) over as many rounds of its chosen plan. */
    plannerWarmupExtraMs: p.warmupExtraMs ?? 0,
    plannerReached: p.reached,
    oracleReached: o.reached,
    wallMs: Date.now() - t0,
    machine: { cpus: availableParallelism(), loadavg: loadavg() },
  };

  console.log(`\ntime to ${TARGET} test accuracy on the emulated unequal fleet (wall time from the end of round 0; capped runs: > cap)`);
  console.table(Object.fromEntries(all.map((r) => [r.name, {
    plan: fmtPlan(r.plan),
    'time to target': `${r.reached ? '' : '> '}${(r.timeToTargetMs / 1000).toFixed(1)} s`,
    rounds: r.rounds,
    'best acc': r.bestAccuracy.toFixed(3),
    'mean round': `${r.meanRoundMs.toFixed(0)} ms`,
    'steady round': r.steadyRoundMs ? `${r.steadyRoundMs.toFixed(0)} ms` : '-',
    'predicted round': r.predictedRoundMs ? `${r.predictedRoundMs.toFixed(0)} ms` : '-',
    'model: rounds x round': `${(predicted(r.plan).timeMs / 1000).toFixed(0)} s`,
  }])));
  if (p.plans && p.plans.length > 1) console.log(`planner's plans: ${p.plans.map((x) => `${fmtPlan(x.plan)} from round ${x.appliedAtRound} (${x.reason})`).join('; ')}`);
  console.log(`oracle (default surrogate, stored capacity): ${fmtPlan(best.plan)}; optimize on the same input: ${fmtPlan(opt.plan)}`);
  console.log(`best fixed baseline (${bestBaseline.name}) / planner: ${result.bestBaselineOverPlanner.toFixed(2)}x${bestBaseline.reached ? '' : ' (lower bound: no baseline reached the target)'}  (aim >= 1.3)`);
  console.log(`planner / oracle: ${result.plannerOverOracle.toFixed(2)}${o.reached ? '' : ' (the oracle run was capped)'}  (aim <= 1.10); the planner's warm-up cost ${(result.plannerWarmupExtraMs / 1000).toFixed(1)} s beyond its chosen plan`);
  console.log(`headroom on this fleet: best fixed baseline / oracle = ${result.bestBaselineOverOracle.toFixed(2)}x`);
  writeFileSync(join(outDir, 'planner.json'), JSON.stringify(result, null, 2));
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
  process.exit(0);
}
