// Chaos: scripted fault schedules against a federation of real processes
// (coordinator, 2 edges, 2 devices each), each followed by the invariants
// of DESIGN §2 "Faults" (see helpers/chaos.ts, ChaosRun.finish):
//   - the run completes (resuming after a coordinator restart: same run id),
//     final test accuracy within 1 point of the same run without faults;
//   - PRAGMA integrity_check = ok; exactly one run in the store, completed;
//   - every round 0..R-1 in round_metrics exactly once;
//   - every node back: the last rounds have all 4 devices, the topology
//     2 edges / 4 devices, no node exited on its own;
//   - no process left behind after stop(); a SIGTERMed node ends within 5 s.
// Each schedule prints one outcome line (and every problem it found).
import { strict as assert } from 'node:assert';
import { LabFederation, NetLab } from '@hsfl/lab';
import {
  CHAOS_TRIAL, OUTAGE_MS, labUnavailable, outcomeLine, rootVeth, runBaseline, runSchedule, setLink, sleep,
  type ChaosRun, type Outcome,
} from './helpers/chaos.js';

const N = 4;

function check(o: Outcome): void {
  assert.equal(o.problems.length, 0, outcomeLine(o));
}

/** Whether a round reported after the first `since` round lines went on without a device (absent or counted late). */
function sawRoundWithout(c: ChaosRun, since: number): boolean {
  return c.roundsSince(since).some((r) => r.devices < N || r.lateDevices > 0);
}

describe('chaos: fault schedules against real processes', function () {
  this.timeout(5 * 60 * 1000);
  let baseline = NaN;
  const t0 = Date.now();

  before(async function () {
    this.timeout(3 * 60 * 1000);
    baseline = await runBaseline();
  });

  after(() => {
    console.log(`      chaos suite: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  it('SIGKILL a device mid-run, restart it', async () => {
    check(await runSchedule('device SIGKILL', baseline, async (c) => {
      const fed = c.fed as import('@hsfl/lab').LocalFederation;
      if (!(await c.faultPoint())) return;
      const victim = 'device-1-0';
      await c.crash(fed.devices.get(victim)!);
      const mark = c.rounds.length;
      await c.until(`a round without ${victim}`, () => c.roundsSince(mark).some((r) => r.devices < N));
      fed.startDevice(victim);
      c.watch();
      await c.allBack(c.rounds.length, `round with all ${N} devices after ${victim} restarted`);
    }));
  });

  it('SIGKILL an edge mid-run, restart it on the same port: its devices reconnect by themselves', async () => {
    check(await runSchedule('edge SIGKILL', baseline, async (c) => {
      const fed = c.fed as import('@hsfl/lab').LocalFederation;
      if (!(await c.faultPoint())) return;
      await c.crash(fed.edges.get('edge-1')!.proc);
      const mark = c.rounds.length;
      await c.until('the cloud to see edge-1 leave', () => !!c.lastTopology && !c.lastTopology.edges.some((e) => e.id === 'edge-1'));
      await c.until('a round without edge-1', () => c.roundsSince(mark).some((r) => r.devices <= N - 2));
      await fed.restartEdge('edge-1');
      c.watch();
      await c.until('topology 2 edges / 4 devices after the edge restarted', () => c.topologyHas(2, N));
      await c.allBack(c.rounds.length, `round with all ${N} devices after edge-1 restarted`);
    }));
  });

  it('SIGKILL the coordinator mid-run, restart it on the same store and port: it resumes the run', async () => {
    check(await runSchedule('coordinator SIGKILL', baseline, async (c, runId) => {
      const fed = c.fed as import('@hsfl/lab').LocalFederation;
      if (!(await c.faultPoint())) return;
      await c.crash(fed.coordinator!);
      const listening = await fed.restartCoordinator();
      c.watch();
      if (listening.runId !== runId) c.problems.push(`the restarted coordinator reported run ${String(listening.runId)}, not the interrupted ${runId}`);
      await c.allBack(c.rounds.length, `round with all ${N} devices after the coordinator restarted`);
    }));
  });

  it('SIGSTOP a device past the deadline, then SIGCONT: the run goes on without it, and it comes back', async () => {
    check(await runSchedule('device SIGSTOP', baseline, async (c) => {
      const fed = c.fed as import('@hsfl/lab').LocalFederation;
      if (!(await c.faultPoint())) return;
      const victim = fed.devices.get('device-0-1')!;
      const mark = c.rounds.length;
      c.signal(victim, 'SIGSTOP');
      await sleep(OUTAGE_MS); // the deliberate outage
      c.signal(victim, 'SIGCONT');
      await c.until('a round that counted the stopped device late', () => sawRoundWithout(c, mark));
      await c.allBack(c.rounds.length, `round with all ${N} devices after SIGCONT`);
    }));
  });

  it('SIGSTOP an edge past the deadline, then SIGCONT: the run goes on without it, and it comes back', async () => {
    check(await runSchedule('edge SIGSTOP', baseline, async (c) => {
      const fed = c.fed as import('@hsfl/lab').LocalFederation;
      if (!(await c.faultPoint())) return;
      const victim = fed.edges.get('edge-0')!.proc;
      const mark = c.rounds.length;
      const stoppedAt = Date.now();
      c.signal(victim, 'SIGSTOP');
      // The run must go on while the edge is stopped: a round without its devices.
      await c.until('round without the stopped edge while it was stopped', () => c.roundsSince(mark).some((r) => r.devices <= N - 2), OUTAGE_MS + 2 * CHAOS_TRIAL.deadlineMs);
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))); // the rest of the deliberate outage
      c.signal(victim, 'SIGCONT');
      await c.allBack(c.rounds.length, `round with all ${N} devices after SIGCONT`);
    }));
  });

  it('SIGTERM an edge and restart it: its devices do not exit, and rejoin', async () => {
    check(await runSchedule('edge SIGTERM', baseline, async (c) => {
      const fed = c.fed as import('@hsfl/lab').LocalFederation;
      if (!(await c.faultPoint())) return;
      const edge = fed.edges.get('edge-0')!.proc;
      const devices = ['device-0-0', 'device-0-1'].map((id) => fed.devices.get(id)!);
      const ms = await c.terminate(edge);
      console.log(`      edge-0 ended ${ms} ms after SIGTERM`);
      await c.until('the cloud to see edge-0 leave', () => !!c.lastTopology && !c.lastTopology.edges.some((e) => e.id === 'edge-0'));
      await fed.restartEdge('edge-0');
      c.watch();
      await c.until('topology 2 edges / 4 devices after edge-0 restarted', () => c.topologyHas(2, N) || devices.some((d) => !d.alive));
      const dead = devices.filter((d) => !d.alive);
      if (dead.length) {
        c.problems.push(`the devices of the SIGTERMed edge exited: ${dead.map((d) => `${d.name} (code ${d.exitCode})`).join(', ')}`);
        return;
      }
      await c.allBack(c.rounds.length, `round with all ${N} devices after edge-0 restarted`);
    }));
  });

  it('SIGTERM the coordinator and restart it: the edges do not idle, the run resumes', async () => {
    check(await runSchedule('coordinator SIGTERM', baseline, async (c, runId) => {
      const fed = c.fed as import('@hsfl/lab').LocalFederation;
      if (!(await c.faultPoint())) return;
      const ms = await c.terminate(fed.coordinator!);
      console.log(`      the coordinator ended ${ms} ms after SIGTERM`);
      const listening = await fed.restartCoordinator();
      c.watch();
      if (listening.runId !== runId) c.problems.push(`the restarted coordinator reported run ${String(listening.runId)}, not the interrupted ${runId}`);
      const mark = c.rounds.length;
      await c.until('a round after the coordinator restarted', () => c.rounds.length > mark);
      await c.allBack(mark, `round with all ${N} devices after the coordinator restarted`);
    }));
  });

  it('a device link cut (veth down in a network namespace) past the deadline, then up', async function () {
    const why = labUnavailable() ?? (await NetLab.available({ cpu: false }).then((s) => (s.ok ? undefined : s.why ?? 'NetLab unavailable')));
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    check(await runSchedule('device link cut', baseline, async (c) => {
      const fed = c.fed as LabFederation;
      if (!(await c.faultPoint())) return;
      const veth = rootVeth(fed.lab!, 'device-1-1');
      const mark = c.rounds.length;
      setLink(veth, 'down');
      try {
        await sleep(OUTAGE_MS); // the deliberate outage
      } finally {
        setLink(veth, 'up');
      }
      await c.until('a round that counted the cut-off device late', () => sawRoundWithout(c, mark));
      await c.allBack(c.rounds.length, `round with all ${N} devices after the link came back`);
    }, 'lab'));
  });
});
