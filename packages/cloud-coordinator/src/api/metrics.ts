import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Coordinator, Plan } from '../coordinator.js';
import type { LiveRound } from './types.js';

/** Link names used as the `link` label, in the order a round uses them. */
export const LINKS = [
  ['device_edge_up', 'bytesDeviceEdgeUp'],
  ['edge_cloud_up', 'bytesEdgeCloudUp'],
  ['cloud_edge_down', 'bytesCloudEdgeDown'],
  ['edge_device_down', 'bytesEdgeDeviceDown'],
] as const;

/**
 * The coordinator's Prometheus metrics (GET /metrics). A registry of its
 * own, not prom-client's global one, so that several coordinators in one
 * process (tests) do not collide. Names and meanings: docs/api.md.
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly detach: () => void;

  constructor(coord: Coordinator, opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: r });
    const reg = [r];
    const round = new Gauge({ name: 'hsfl_round', help: 'Index of the last finished round of the current run (0-based)', registers: reg });
    const roundsPlanned = new Gauge({ name: 'hsfl_rounds_planned', help: 'Rounds the current run is configured to train', registers: reg });
    const roundsTotal = new Counter({ name: 'hsfl_rounds_total', help: 'Rounds finished since the coordinator started', registers: reg });
    const testAcc = new Gauge({ name: 'hsfl_test_accuracy', help: 'Latest test accuracy of the assembled global model (0-1)', registers: reg });
    const testLoss = new Gauge({ name: 'hsfl_test_loss', help: 'Latest test loss of the assembled global model', registers: reg });
    const trainLoss = new Gauge({ name: 'hsfl_train_loss', help: 'Mean training loss of the last round', registers: reg });
    const trainAcc = new Gauge({ name: 'hsfl_train_accuracy', help: 'Training accuracy of the last round (0-1)', registers: reg });
    const roundMs = new Gauge({ name: 'hsfl_round_duration_ms', help: 'Wall time of the last round at the cloud, ms', registers: reg });
    const roundHist = new Histogram({
      name: 'hsfl_round_duration_seconds', help: 'Distribution of round wall times', registers: reg,
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    const tierMs = new Gauge({ name: 'hsfl_tier_compute_ms', help: 'Compute time of each tier in the last round (slowest node of the tier), ms', labelNames: ['tier'], registers: reg });
    const waitMs = new Gauge({ name: 'hsfl_tier_wait_ms', help: 'Time a tier waited for its children in the last round, ms', labelNames: ['tier'], registers: reg });
    const linkBytes = new Counter({ name: 'hsfl_link_bytes_total', help: 'Bytes carried by each link since the coordinator started', labelNames: ['link'], registers: reg });
    const roundBytes = new Gauge({ name: 'hsfl_round_link_bytes', help: 'Bytes carried by each link in the last round', labelNames: ['link'], registers: reg });
    const devicesInRound = new Gauge({ name: 'hsfl_round_devices', help: 'Devices that took part in the last round', registers: reg });
    const lateDevices = new Gauge({ name: 'hsfl_round_late_devices', help: 'Devices that missed the deadline in the last round', registers: reg });
    const planVersion = new Gauge({ name: 'hsfl_plan_version', help: 'Version of the plan in force', registers: reg });
    const planCut = new Gauge({ name: 'hsfl_plan_cut', help: 'Cut layers of the plan in force (c1: devices|edges, c2: edges|cloud)', labelNames: ['cut'], registers: reg });
    const planInterval = new Gauge({ name: 'hsfl_plan_interval_rounds', help: 'Aggregation intervals of the plan in force', labelNames: ['tier'], registers: reg });
    new Gauge({
      name: 'hsfl_connected_edges', help: 'Edge aggregators connected to the coordinator', registers: reg,
      collect() { this.set(coord.topology().length); },
    });
    new Gauge({
      name: 'hsfl_connected_devices', help: 'Devices connected through the edges', registers: reg,
      collect() { this.set(coord.topology().reduce((n, e) => n + e.devices.length, 0)); },
    });
    new Gauge({
      name: 'hsfl_run_active', help: '1 while a run is in progress', registers: reg,
      collect() { this.set(coord.runId ? 1 : 0); },
    });
    new Gauge({
      name: 'hsfl_run_paused', help: '1 while the run in progress is paused', registers: reg,
      collect() { this.set(coord.runId && coord.paused ? 1 : 0); },
    });

    const onRound = (m: LiveRound) => {
      round.set(m.round);
      roundsPlanned.set(m.rounds);
      roundsTotal.inc();
      if (m.testAccuracy !== undefined && m.testAccuracy !== null) testAcc.set(m.testAccuracy);
      if (m.testLoss !== undefined && m.testLoss !== null) testLoss.set(m.testLoss);
      trainLoss.set(m.loss);
      trainAcc.set(m.trainAccuracy);
      roundMs.set(m.roundMs);
      roundHist.observe(m.roundMs / 1000);
      tierMs.set({ tier: 'device' }, m.deviceComputeMs);
      tierMs.set({ tier: 'edge' }, m.edgeComputeMs);
      tierMs.set({ tier: 'cloud' }, m.cloudComputeMs);
      waitMs.set({ tier: 'edge' }, m.edgeWaitMs);
      waitMs.set({ tier: 'cloud' }, m.cloudWaitMs);
      for (const [link, key] of LINKS) {
        const b = Number(m[key]) || 0;
        if (b > 0) linkBytes.inc({ link }, b);
        roundBytes.set({ link }, b);
      }
      devicesInRound.set(m.devices);
      lateDevices.set(m.lateDevices);
    };
    const onPlan = (p: Plan) => {
      planVersion.set(p.version);
      planCut.set({ cut: 'c1' }, p.c1);
      planCut.set({ cut: 'c2' }, p.c2);
      planInterval.set({ tier: 'device' }, p.i1);
      planInterval.set({ tier: 'edge' }, p.i2);
      roundsPlanned.set(p.rounds);
    };
    coord.on('round', onRound);
    coord.on('plan', onPlan);
    const plan = coord.plan;
    if (plan) onPlan(plan);
    this.detach = () => {
      coord.off('round', onRound);
      coord.off('plan', onPlan);
    };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    this.detach();
    this.registry.clear();
  }
}
