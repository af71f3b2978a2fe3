/**
 * Independent reference implementations of the round semantics of DESIGN §2,
 * for tests to compare the real roles against. Nothing here goes through a
 * role's code: only SubModel, fedAvg, BatchIterator and partition from the
 * runtime.
 */
import { tf, SubModel, BatchIterator, fedAvg, modelInfo, partition, loadMnist, type Batch, type Dataset } from '@hsfl/runtime';

export interface ReferenceConfig {
  model: string;
  c1: number;
  c2: number;
  i1: number;
  i2: number;
  lr: number;
  seed: number;
}

/** Plain SGD on the mean loss of each concatenated batch, on the whole model. */
export function centralizedSgd(model: string, seed: number, lr: number, steps: Batch[]): Float32Array[] {
  const L = modelInfo(model).numUnits;
  const m = SubModel.create(model, 0, L, seed);
  try {
    for (const b of steps) {
      const x = tf.tensor(b.x, [b.n, ...m.inputShape()]);
      const y = tf.tensor1d(b.y, 'int32');
      m.trainTop(x, y, lr, false);
      x.dispose();
      y.dispose();
    }
    return m.getWeights();
  } finally {
    m.dispose();
  }
}

/**
 * A reference HSFL simulator: one SubModel copy per device ([0,c1)), per edge
 * ([c1,c2)) and one for the cloud ([c2,L)), all created from the trial seed.
 * Round k (1-based since the start): every device forwards its next batch,
 * each edge concatenates its devices' activations in device order and
 * forwards, the cloud concatenates edges in edge order, trains on the mean
 * loss and passes the SUM-loss gradient down; each edge and device steps on
 * the mean over its own samples. Every I1 rounds the device copies are
 * FedAvg-ed (weighted by the samples each trained on since the last device
 * sync), every I2 rounds the edge copies (weighted likewise).
 */
export class HsflReference {
  readonly devices: SubModel[] = [];
  readonly edges: SubModel[] = [];
  readonly top: SubModel;
  /** Samples each device / edge copy trained on since its tier's last sync. */
  readonly devSince: number[];
  readonly edgeSince: number[];
  /** Rounds trained so far. */
  rounds = 0;
  readonly L: number;
  private readonly edgeOf: number[] = [];

  /**
   * @param devicesPerEdge devices of each edge, in edge order; devices are numbered across edges in order
   * @param iters one batch stream per device, in that numbering
   */
  constructor(readonly cfg: ReferenceConfig, readonly devicesPerEdge: number[], readonly iters: { next(): Batch }[]) {
    this.L = modelInfo(cfg.model).numUnits;
    const total = devicesPerEdge.reduce((a, b) => a + b, 0);
    if (iters.length !== total) throw new Error(`${iters.length} batch streams for ${total} devices`);
    devicesPerEdge.forEach((n, e) => {
      for (let j = 0; j < n; j++) this.edgeOf.push(e);
      this.edges.push(SubModel.create(cfg.model, cfg.c1, cfg.c2, cfg.seed));
    });
    for (let d = 0; d < total; d++) this.devices.push(SubModel.create(cfg.model, 0, cfg.c1, cfg.seed));
    this.top = SubModel.create(cfg.model, cfg.c2, this.L, cfg.seed);
    this.devSince = new Array<number>(total).fill(0);
    this.edgeSince = new Array<number>(devicesPerEdge.length).fill(0);
  }

  /** One round, then the syncs its number calls for (and both if forceSync). */
  round(forceSync = false): void {
    const { cfg } = this;
    const batches = this.iters.map((it) => it.next());
    const xs = batches.map((b, d) => tf.tensor(b.x, [b.n, ...this.devices[d]!.inputShape()]));
    const acts = xs.map((x, d) => this.devices[d]!.forward(x));
    const edgeIn: tf.Tensor[] = [];
    const edgeOut: tf.Tensor[] = [];
    const members: number[][] = this.devicesPerEdge.map(() => []);
    this.edgeOf.forEach((e, d) => members[e]!.push(d));
    members.forEach((ds, e) => {
      const x = tf.concat(ds.map((d) => acts[d]!), 0);
      edgeIn.push(x);
      edgeOut.push(this.edges[e]!.forward(x));
    });
    const topIn = tf.concat(edgeOut, 0);
    const labels = tf.tensor1d(Int32Array.from(batches.flatMap((b) => Array.from(b.y))), 'int32');
    // Labels are in device order, which is edge order then device order within the edge: the same order as topIn.
    const out = this.top.trainTop(topIn, labels, cfg.lr, true);
    const dTop = out.dxSum!;
    let off = 0;
    members.forEach((ds, e) => {
      const ne = ds.reduce((a, d) => a + batches[d]!.n, 0);
      const g = tf.slice(dTop, off, ne);
      off += ne;
      const dEdge = this.edges[e]!.backward(edgeIn[e]!, g, ne, cfg.lr, true)!;
      g.dispose();
      this.edgeSince[e]! += ne;
      let o = 0;
      for (const d of ds) {
        const n = batches[d]!.n;
        const gd = tf.slice(dEdge, o, n);
        o += n;
        this.devices[d]!.backward(xs[d]!, gd, n, cfg.lr, false);
        gd.dispose();
        this.devSince[d]! += n;
      }
      dEdge.dispose();
    });
    dTop.dispose();
    labels.dispose();
    topIn.dispose();
    for (const t of [...xs, ...acts, ...edgeIn, ...edgeOut]) if (!t.isDisposed) t.dispose();
    this.rounds++;
    const k = this.rounds;
    if (forceSync || k % cfg.i1 === 0) this.syncDevices();
    if (forceSync || k % cfg.i2 === 0) this.syncEdges();
  }

  /** Runs n rounds on the natural schedule; the last one also syncs both tiers if forceLast. */
  run(n: number, forceLast = true): void {
    for (let i = 0; i < n; i++) this.round(forceLast && i === n - 1);
  }

  /** FedAvg of the device copies weighted by samples since the last sync (equal to averaging per edge first, then edges by their sample totals). */
  syncDevices(): void {
    if (this.cfg.c1 === 0 || this.devSince.every((s) => s === 0)) return;
    const avg = fedAvg(this.devices.map((m) => m.getWeights()), this.devSince);
    for (const m of this.devices) m.setWeights(avg);
    this.devSince.fill(0);
  }

  syncEdges(): void {
    if (this.cfg.c1 === this.cfg.c2 || this.edgeSince.every((s) => s === 0)) return;
    const avg = fedAvg(this.edges.map((m) => m.getWeights()), this.edgeSince);
    for (const m of this.edges) m.setWeights(avg);
    this.edgeSince.fill(0);
  }

  deviceWeights(d: number): Float32Array[] {
    return this.devices[d]!.getWeights();
  }

  edgeWeights(e: number): Float32Array[] {
    return this.edges[e]!.getWeights();
  }

  topWeights(): Float32Array[] {
    return this.top.getWeights();
  }

  /** The assembled model; only meaningful when both lower tiers are in sync (checks that they are). */
  global(): Float32Array[] {
    const d0 = this.devices[0]!.getWeights();
    const e0 = this.edges[0]!.getWeights();
    for (const m of this.devices) if (maxDiff(m.getWeights(), d0) !== 0) throw new Error('reference: device tier is not in sync');
    for (const m of this.edges) if (maxDiff(m.getWeights(), e0) !== 0) throw new Error('reference: edge tier is not in sync');
    return [...d0, ...e0, ...this.top.getWeights()];
  }

  dispose(): void {
    for (const m of [...this.devices, ...this.edges, this.top]) m.dispose();
  }
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

/**
 * The batch streams of the device CLI (packages/device/src/cli.ts) for a lab
 * federation: the MNIST train split partitioned like every device does it,
 * each device's BatchIterator seeded with dataSeed * 7919 + shard. In shard
 * order, which is also device-id order within an edge and edge order across.
 */
export function cliBatchStreams(o: { shards: number; partition: 'iid' | 'dirichlet'; alpha: number; dataSeed: number; batchSize: number }): { data: Dataset; iters: BatchIterator[]; shards: Int32Array[] } {
  const { train } = loadMnist();
  const shards = partition(train.y, o.shards, { kind: o.partition, alpha: o.alpha, seed: o.dataSeed });
  return { data: train, shards, iters: shards.map((s, k) => new BatchIterator(train, s, o.batchSize, o.dataSeed * 7919 + k)) };
}

/** Float32 weights from a checkpoint blob (little-endian float32, concatenated in weight order), cut by the given sizes. */
export function splitWeightBlob(blob: Uint8Array, sizes: number[]): Float32Array[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (blob.byteLength !== total * 4) throw new Error(`checkpoint holds ${blob.byteLength} bytes, the model ${total * 4}`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const out: Float32Array[] = [];
  let off = 0;
  for (const n of sizes) {
    const w = new Float32Array(n);
    for (let i = 0; i < n; i++, off += 4) w[i] = view.getFloat32(off, true);
    out.push(w);
  }
  return out;
}
