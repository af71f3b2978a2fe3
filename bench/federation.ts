// Framework overhead: training samples/s of a three-tier run (coordinator,
// 2 edges, 4 devices, each its own process on loopback) against centralized
// training of the same model on the same concatenated batches, on the same
// backend, in the same run (DESIGN.md section 8, issue 2); and the same
// federation over TLS (the default) against --insecure plain http (issue 9).
//
//   node bench/dist/federation.js   prints a table, writes bench-results/federation.json
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LocalFederation } from '@hsfl/lab';
import { DEFAULT_TRIAL, Store } from '@hsfl/cloud-coordinator';
import { initBackend, loadMnist, partition, BatchIterator, SubModel, modelInfo, tf, concatBatches } from '@hsfl/runtime';

const ROUNDS = 150;
const EDGES = 2;
const PER_EDGE = 2;
const BATCH = 32;
const MODEL = 'cnn-mnist';

interface FederatedFigures {
  samplesPerSec: number;
  roundMs: number;
  rounds: number;
  backend: string;
  /** Mean per round: the slowest device's compute, the slowest edge's, the cloud's. */
  deviceComputeMs: number;
  edgeComputeMs: number;
  cloudComputeMs: number;
  bytesPerRound: number;
}

async function federated(security: 'tls' | 'insecure'): Promise<FederatedFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'hsfl-bench-fed-'));
  const db = join(dir, 'hsfl.sqlite');
  const fed = new LocalFederation({
    trial: { ...DEFAULT_TRIAL, name: 'bench-overhead', model: MODEL, c1: 2, c2: 5, i1: 2, i2: 4, batchSize: BATCH, rounds: ROUNDS, evalEvery: 0 },
    edges: EDGES, devicesPerEdge: PER_EDGE, partition: 'iid', alpha: 1, dataSeed: 1, token: 'bench', security, db, logDir: join(dir, 'logs'), logLevel: 'warn',
  });
  try {
    await fed.start();
    const listening = await fed.coordinator!.waitFor((m) => m.type === 'listening', 60000, 'listening');
    const done = await fed.waitDone(30 * 60 * 1000);
    await fed.stop();
    const store = Store.open(db);
    try {
      // Time from the end of round 0 (every process warm, JIT done) to the end of the last round.
      const m = store.listRoundMetrics(done.runId);
      const span = m[m.length - 1]!.endedAt - m[0]!.endedAt;
      const samples = m.slice(1).reduce((a, r) => a + r.samples, 0);
      const rest = m.slice(1);
      const mean = (f: (r: (typeof m)[number]) => number) => rest.reduce((a, r) => a + f(r), 0) / rest.length;
      return {
        samplesPerSec: samples / (span / 1000), roundMs: mean((r) => r.roundMs), rounds: m.length, backend: String(listening.backend),
        deviceComputeMs: mean((r) => r.deviceComputeMs), edgeComputeMs: mean((r) => r.edgeComputeMs), cloudComputeMs: mean((r) => r.cloudComputeMs),
        bytesPerRound: mean((r) => r.bytesDeviceEdgeUp + r.bytesEdgeDeviceDown + r.bytesEdgeCloudUp + r.bytesCloudEdgeDown),
      };
    } finally {
      store.close();
    }
  } finally {
    await fed.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same model, the same concatenated batches, one process, plain SGD. */
async function centralized(): Promise<{ samplesPerSec: number; stepMs: number; backend: string }> {
  const backend = await initBackend();
  const { train } = loadMnist();
  const devices = EDGES * PER_EDGE;
  const shards = partition(train.y, devices, { kind: 'iid', seed: 1 });
  const iters = shards.map((s, i) => new BatchIterator(train, s, BATCH, i + 1));
  const model = SubModel.create(MODEL, 0, modelInfo(MODEL).numUnits, 1);
  const step = () => {
    const { x, y, n } = concatBatches(iters.map((it) => it.next()));
    const xt = tf.tensor(x, [n, ...model.inputShape()]);
    const yt = tf.tensor1d(y, 'int32');
    model.trainTop(xt, yt, 0.05, false);
    xt.dispose();
    yt.dispose();
    return n;
  };
  for (let i = 0; i < 3; i++) step();
  const t0 = performance.now();
  let samples = 0;
  for (let i = 0; i < ROUNDS - 1; i++) samples += step();
  const ms = performance.now() - t0;
  model.dispose();
  return { samplesPerSec: samples / (ms / 1000), stepMs: ms / (ROUNDS - 1), backend: backend.name };
}

export async function run(): Promise<Record<string, unknown>> {
  const central = await centralized();
  // TLS is the product's default; the insecure run in the same process gives what TLS costs.
  const fed = await federated('tls');
  const plain = await federated('insecure');
  const result = {
    model: MODEL, rounds: ROUNDS, devices: EDGES * PER_EDGE, edges: EDGES, batchPerDevice: BATCH, cuts: [2, 5], intervals: [2, 4],
    centralized: central, federated: fed,
    federatedInsecure: plain,
    tls: { samplesPerSec: fed.samplesPerSec, insecureSamplesPerSec: plain.samplesPerSec, throughputRatio: fed.samplesPerSec / plain.samplesPerSec },
    overheadRatio: central.samplesPerSec / fed.samplesPerSec,
    efficiency: fed.samplesPerSec / central.samplesPerSec,
    machine: { cpus: (await import('node:os')).availableParallelism() },
  };
  console.log('\nfederation overhead (same model, same concatenated batches, same backend, same run)');
  console.table({
    centralized: { 'samples/s': central.samplesPerSec.toFixed(0), 'ms per step/round': central.stepMs.toFixed(1), backend: central.backend },
    'three-tier, TLS (7 processes)': { 'samples/s': fed.samplesPerSec.toFixed(0), 'ms per step/round': fed.roundMs.toFixed(1), backend: fed.backend },
    'three-tier, --insecure': { 'samples/s': plain.samplesPerSec.toFixed(0), 'ms per step/round': plain.roundMs.toFixed(1), backend: plain.backend },
  });
  console.log(`TLS / plain http throughput: ${result.tls.throughputRatio.toFixed(3)}`);
  console.log(`three-tier / centralized throughput: ${result.efficiency.toFixed(3)} (overhead factor ${result.overheadRatio.toFixed(2)}x)`);
  console.log(`per round: device compute ${fed.deviceComputeMs.toFixed(1)} ms (slowest), edge ${fed.edgeComputeMs.toFixed(1)} ms, cloud ${fed.cloudComputeMs.toFixed(1)} ms, ${(fed.bytesPerRound / 1e6).toFixed(2)} MB on the wire`);
  const outDir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'federation.json'), JSON.stringify(result, null, 2));
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
  process.exit(0);
}
