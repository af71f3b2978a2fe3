// Training-kernel benchmark (DESIGN.md sections 5 and 8): ms per batch-32
// training step of small CNNs on the stock tfjs cpu backend, on the cpu
// backend with the project's fast kernels, and on wasm with the project's
// kernels -- all in one process, so every speedup is measured against the
// stock backend in the same run. GFLOP/s is set against a matMul peak
// measured on each backend in the same run.
//
//   node bench/dist/runtime-kernels.js   prints a table, writes bench-results/runtime-kernels.json
//
// Env: HSFL_BENCH_MODELS=keras-mnist,small-cnn,... (subset)
//      HSFL_BENCH_STOCK_STEPS=2 (timed stock-cpu steps; ~100 s each for keras-mnist)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { STOCK_CPU_BACKEND, SubModel, modelSpec, registerProjectKernels, unitOutputShape } from '@hsfl/runtime';

const BATCH = 32;
const LR = 0.01;

type BackendId = 'cpu-stock' | 'cpu' | 'wasm';
const BACKENDS: Array<{ id: BackendId; tfName: string; label: string }> = [
  { id: 'cpu-stock', tfName: STOCK_CPU_BACKEND, label: 'stock cpu' },
  { id: 'cpu', tfName: 'cpu', label: 'fast cpu' },
  { id: 'wasm', tfName: 'wasm', label: 'wasm' },
];

interface Trainer {
  step(): Promise<void>;
  dispose(): void;
}

interface ModelDef {
  name: string;
  description: string;
  inputShape: number[];
  classes: number;
  /** Training FLOPs per sample (forward + weight gradients + input gradients below the first layer). */
  trainFlopsPerSample: () => number;
  make: () => Trainer;
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function randomBatch(inputShape: number[], classes: number): { x: tf.Tensor; y: tf.Tensor; labels: tf.Tensor1D } {
  return tf.tidy(() => {
    const x = tf.randomUniform([BATCH, ...inputShape], 0, 1, 'float32', 1);
    const labels = tf.randomUniform([BATCH], 0, classes, 'int32', 2) as tf.Tensor1D;
    const y = tf.oneHot(labels, classes);
    return { x, y, labels };
  });
}

/** Forward multiply-add FLOPs of conv / dense layers (2 per MAC), first layer separately. */
function layersFlops(model: tfl.LayersModel): { total: number; first: number } {
  let total = 0;
  let first = -1;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const ws = layer.getWeights();
    const shape = ws.length ? (ws[0].shape as number[]) : [];
    let f = 0;
    if (cls === 'Conv2D' && shape.length === 4) {
      const out = layer.outputShape as number[];
      f = 2 * prod(shape) * out[1] * out[2];
    } else if (cls === 'Dense' && shape.length === 2) {
      f = 2 * shape[0] * shape[1];
    }
    if (f > 0 && first < 0) first = f;
    total += f;
  }
  return { total, first: Math.max(0, first) };
}

/** 3x forward minus the input gradient of the first layer (never computed). */
const trainFlops = ({ total, first }: { total: number; first: number }): number => 3 * total - first;

function layersModel(name: string, description: string, inputShape: number[], classes: number,
  build: () => tfl.Sequential): ModelDef {
  return {
    name,
    description,
    inputShape,
    classes,
    trainFlopsPerSample: () => {
      const m = build();
      const f = trainFlops(layersFlops(m));
      m.dispose();
      return f;
    },
    make: () => {
      const model = build();
      model.compile({ optimizer: tf.train.sgd(LR), loss: 'categoricalCrossentropy' });
      const { x, y, labels } = randomBatch(inputShape, classes);
      return {
        step: async () => {
          await model.trainOnBatch(x, y);
        },
        dispose: () => {
          tf.dispose([x, y, labels]);
          model.dispose();
        },
      };
    },
  };
}

/** A model of the project's zoo, trained the way the cloud tier trains it (SubModel.trainTop). */
function zooModel(name: string): ModelDef {
  const spec = modelSpec(name);
  return {
    name,
    description: `zoo: ${spec.description}`,
    inputShape: spec.inputShape,
    classes: spec.numClasses,
    trainFlopsPerSample: () => {
      let total = 0;
      let first = -1;
      spec.units.forEach((u, k) => {
        const input = unitOutputShape(name, k);
        const out = unitOutputShape(name, k + 1);
        let f = 0;
        if (u.layer.kind === 'conv2d') f = 2 * u.layer.kernel * u.layer.kernel * input[2] * prod(out);
        else if (u.layer.kind === 'dense') f = 2 * prod(input) * u.layer.units;
        if (f > 0 && first < 0) first = f;
        total += f;
      });
      return trainFlops({ total, first: Math.max(0, first) });
    },
    make: () => {
      const sub = SubModel.create(name, 0, spec.units.length, 1);
      const { x, y, labels } = randomBatch(spec.inputShape, spec.numClasses);
      return {
        step: async () => {
          sub.trainTop(x, labels, LR, false);
        },
        dispose: () => {
          tf.dispose([x, y, labels]);
          sub.dispose();
        },
      };
    },
  };
}

const MODELS: ModelDef[] = [
  layersModel('keras-mnist', 'Keras MNIST CNN: conv32 3x3, conv64 3x3, maxpool 2, dense128, dense10', [28, 28, 1], 10,
    () => tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
        tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 128, activation: 'relu' }),
        tfl.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    })),
  layersModel('small-cnn', 'conv8 3x3, maxpool, conv16 3x3, maxpool, dense10', [28, 28, 1], 10,
    () => tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu' }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    })),
  zooModel('cnn-mnist'),
  zooModel('cnn-cifar'),
];

async function use(tfName: string): Promise<void> {
  if (!(await tf.setBackend(tfName))) throw new Error(`backend ${tfName} failed to initialise`);
  await tf.ready();
}

/** ms per step: warm-up, then steps until both minSteps and minMs are reached (median). */
async function timeSteps(t: Trainer, stock: boolean): Promise<{ ms: number; steps: number }> {
  const stockSteps = Math.max(1, Number(process.env.HSFL_BENCH_STOCK_STEPS ?? 2));
  const samples: number[] = [];
  // warm-up: JIT, XNNPACK operator creation, first-touch allocations
  let t0 = performance.now();
  await t.step();
  const first = performance.now() - t0;
  if (stock && first > 5000) samples.push(first); // a 100 s step gains nothing from a warm-up
  else {
    t0 = performance.now();
    await t.step();
    if (stock) samples.push(performance.now() - t0);
  }
  const minSteps = stock ? stockSteps : 5;
  const minMs = stock ? 0 : 3000;
  const started = performance.now();
  while (samples.length < minSteps || (performance.now() - started < minMs && samples.length < 50)) {
    t0 = performance.now();
    await t.step();
    samples.push(performance.now() - t0);
  }
  return { ms: median(samples), steps: samples.length };
}

/** GFLOP/s of an n x n matMul on the active backend (median of reps). */
function matMulPeak(n: number, reps: number): number {
  const a = tf.randomUniform([n, n]);
  const b = tf.randomUniform([n, n]);
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const dt = performance.now() - t0;
    c.dispose();
    if (i > 0 || reps === 0) times.push(dt);
  }
  tf.dispose([a, b]);
  return (2 * n * n * n) / (median(times) / 1000) / 1e9;
}

export async function run(): Promise<Record<string, unknown>> {
  registerProjectKernels('wasm');
  registerProjectKernels('cpu'); // also registers 'cpu-stock' with the untouched kernels
  const only = process.env.HSFL_BENCH_MODELS?.split(',').map((s) => s.trim()).filter(Boolean);
  const models = only?.length ? MODELS.filter((m) => only.includes(m.name)) : MODELS;

  await use('wasm');
  const wasmInfo = {
    simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: getThreadsCount(),
  };

  const peak: Record<string, { gflops: number; n: number }> = {};
  for (const be of BACKENDS) {
    await use(be.tfName);
    const n = be.id === 'cpu-stock' ? 512 : 1024;
    peak[be.id] = { gflops: matMulPeak(n, be.id === 'cpu-stock' ? 1 : 3), n };
  }

  const rows: Array<Record<string, string | number>> = [];
  const results: Array<Record<string, unknown>> = [];
  for (const m of models) {
    const flopsPerStep = m.trainFlopsPerSample() * BATCH;
    let stockMs = Number.NaN;
    for (const be of BACKENDS) {
      await use(be.tfName);
      const t = m.make();
      const tensorsBefore = tf.memory().numTensors;
      const { ms, steps } = await timeSteps(t, be.id === 'cpu-stock');
      const leaked = tf.memory().numTensors - tensorsBefore;
      t.dispose();
      if (be.id === 'cpu-stock') stockMs = ms;
      const gflops = flopsPerStep / (ms / 1000) / 1e9;
      const r = {
        model: m.name,
        backend: be.id,
        msPerStep: ms,
        samplesPerSec: (BATCH * 1000) / ms,
        speedupVsStockCpu: stockMs / ms,
        gflopsPerSec: gflops,
        matMulPeakGflops: peak[be.id].gflops,
        fractionOfPeak: gflops / peak[be.id].gflops,
        stepsTimed: steps,
        trainGflopPerStep: flopsPerStep / 1e9,
        tensorsLeakedOverRun: leaked,
      };
      results.push({ ...r, description: m.description });
      rows.push({
        model: m.name,
        backend: be.label,
        'ms/step': Number(ms.toFixed(ms < 100 ? 1 : 0)),
        'samples/s': Number(r.samplesPerSec.toFixed(1)),
        'x stock cpu': Number(r.speedupVsStockCpu.toFixed(1)),
        'GFLOP/s': Number(gflops.toFixed(2)),
        'matMul peak': Number(peak[be.id].gflops.toFixed(2)),
        '% peak': Number((100 * r.fractionOfPeak).toFixed(0)),
      });
      console.error(`[runtime-kernels] ${m.name} on ${be.label}: ${ms.toFixed(1)} ms/step (${steps} steps)`);
    }
  }

  console.table(rows);
  const out = {
    bench: 'runtime-kernels',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, tfjs: tf.version_core },
    batch: BATCH,
    wasm: wasmInfo,
    matMulPeak: peak,
    results,
  };
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/runtime-kernels.json', `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
