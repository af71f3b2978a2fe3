import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  STOCK_CPU_BACKEND,
  describeBackend,
  getBackendInfo,
  initBackend,
  parseBackendPreference,
  type BackendInfo,
} from './index.js';

async function tfjsNodeLoads(): Promise<boolean> {
  try {
    const spec = '@tensorflow/tfjs-node';
    await import(spec);
    return true;
  } catch {
    return false;
  }
}

describe('initBackend', function () {
  this.timeout(60_000);
  const savedEnv = { backend: process.env.HSFL_BACKEND, kernels: process.env.HSFL_PROJECT_KERNELS };
  let hasNode = false;

  before(async () => {
    hasNode = await tfjsNodeLoads();
  });

  afterEach(() => {
    for (const [k, v] of [['HSFL_BACKEND', savedEnv.backend], ['HSFL_PROJECT_KERNELS', savedEnv.kernels]] as const) {
      if (v == null) delete process.env[k];
      else process.env[k] = v;
    }
  });

  after(async () => {
    delete process.env.HSFL_BACKEND;
    delete process.env.HSFL_PROJECT_KERNELS;
    await initBackend(); // leave the process on the default choice for later suites
    if (savedEnv.backend != null) process.env.HSFL_BACKEND = savedEnv.backend;
    if (savedEnv.kernels != null) process.env.HSFL_PROJECT_KERNELS = savedEnv.kernels;
  });

  it("'auto' uses tfjs-node if it loads, else wasm with the project kernels", async () => {
    delete process.env.HSFL_BACKEND;
    const info = await initBackend();
    assert.equal(tf.getBackend(), info.name);
    assert.equal(getBackendInfo(), info);
    if (hasNode) {
      assert.equal(info.name, 'tensorflow');
      return;
    }
    assert.equal(info.name, 'wasm');
    assert.equal(typeof info.simd, 'boolean');
    assert.ok((info.threads ?? 0) >= 1);
    for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput',
      'UnsortedSegmentSum', 'MaxPoolGrad']) {
      assert.ok(info.projectKernels.includes(k), `${k} in ${info.projectKernels}`);
      assert.ok(tf.getKernel(k, 'wasm'), `${k} registered`);
    }
    assert.match(info.reason ?? '', /tensorflow unavailable/);
    assert.match(info.tfjsVersion ?? '', /^\d+\.\d+\.\d+/);
  });

  it('is idempotent: the same call returns the same info, concurrent calls share one init', async () => {
    const a = await initBackend();
    const [b, c] = await Promise.all([initBackend(), initBackend()]);
    assert.equal(a, b);
    assert.equal(b, c);
  });

  it('re-activates its backend if something switched away', async () => {
    const info = await initBackend();
    await tf.setBackend(STOCK_CPU_BACKEND);
    assert.equal(tf.getBackend(), STOCK_CPU_BACKEND);
    const again = await initBackend();
    assert.equal(again, info);
    assert.equal(tf.getBackend(), info.name);
  });

  it("preferred 'cpu' gives the cpu backend with fast kernels and keeps a stock copy", async () => {
    const info = await initBackend({ preferred: 'cpu' });
    assert.equal(info.name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.ok(info.projectKernels.includes('Conv2DBackpropFilter'));
    assert.ok(tf.findBackendFactory(STOCK_CPU_BACKEND), 'cpu-stock registered');
    assert.notEqual(tf.getKernel('Conv2DBackpropFilter', 'cpu').kernelFunc,
      tf.getKernel('Conv2DBackpropFilter', STOCK_CPU_BACKEND).kernelFunc);
  });

  it('HSFL_BACKEND overrides auto; an explicit preference overrides HSFL_BACKEND', async () => {
    process.env.HSFL_BACKEND = 'cpu';
    assert.equal((await initBackend()).name, 'cpu');
    assert.equal((await initBackend({ preferred: 'auto' })).name, 'cpu');
    const explicit = await initBackend({ preferred: 'wasm' });
    assert.equal(explicit.name, 'wasm');
    assert.match(explicit.reason ?? '', /requested/);
  });

  it("'tensorflow' falls back down the chain and says why", async function () {
    if (hasNode) this.skip();
    const info = await initBackend({ preferred: 'tensorflow' });
    assert.equal(info.name, 'wasm');
    assert.match(info.reason ?? '', /requested tensorflow: tensorflow unavailable .*; using wasm/);
  });

  it('rejects unknown backend names, from opts or env', async () => {
    assert.throws(() => parseBackendPreference('gpu'), /unknown tfjs backend 'gpu'/);
    await assert.rejects(initBackend({ preferred: 'webgl' as never }), /unknown tfjs backend/);
    process.env.HSFL_BACKEND = 'nope';
    await assert.rejects(initBackend(), /unknown tfjs backend 'nope'/);
    assert.equal(parseBackendPreference(' WASM '), 'wasm');
    assert.equal(parseBackendPreference('tfjs-node'), 'tensorflow');
    assert.equal(parseBackendPreference(''), 'auto');
  });

  it('projectKernels: false (or HSFL_PROJECT_KERNELS=0) restores the stock kernels', async () => {
    const off = await initBackend({ preferred: 'cpu', projectKernels: false });
    assert.deepEqual(off.projectKernels, []);
    assert.equal(tf.getKernel('Conv2DBackpropFilter', 'cpu').kernelFunc,
      tf.getKernel('Conv2DBackpropFilter', STOCK_CPU_BACKEND).kernelFunc);
    process.env.HSFL_PROJECT_KERNELS = '0';
    const wasmOff = await initBackend({ preferred: 'wasm' });
    assert.deepEqual(wasmOff.projectKernels, []);
    assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined);
    delete process.env.HSFL_PROJECT_KERNELS;
    const on = await initBackend({ preferred: 'wasm' });
    assert.ok(on.projectKernels.includes('Conv2DBackpropFilter'));
  });

  it('BackendInfo is plain loggable data', async () => {
    const info: BackendInfo = await initBackend();
    assert.deepEqual(JSON.parse(JSON.stringify(info)), info);
    const line = describeBackend(info);
    assert.ok(line.startsWith(info.name), line);
  });
});
