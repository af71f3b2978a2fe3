import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { modelProfile, profileUnits } from '../../profile/index.js';
import { modelSizes, tierWeightShapes } from '../sizes.js';
import { SubModel } from '../submodel.js';
import { maxAbsDiff, useTestBackend } from '../testing.js';
import { listModels, modelInfo, modelSpec, rangeWeightSpecs, registerModel, unitOutputShape } from '../zoo.js';
import { unregisterModel } from '../registry.js';
import { fileLoadHandler } from './file-io.js';
import { importLayersModel, importModel, modelSpecFromLayersModel } from './import.js';
import { fanOutModel, functionalChain, removeDir, residualModel, saveModel, seedWeights, sequentialCnn, tempDir, writeKerasStyleModel } from './testing.js';

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** softmax(SubModel full forward) vs the original's predict on the same batch. */
function compareWithOriginal(name: string, original: tfl.LayersModel, softmax: boolean): number {
  const { numUnits: L, inputShape } = modelInfo(name);
  const sub = SubModel.create(name, 0, L, 123);
  const x = tf.randomUniform([4, ...inputShape], 0, 1, 'float32', 9);
  const logits = sub.forward(x);
  const got = softmax ? tf.softmax(logits) : logits.clone();
  const want = original.predict(x) as tf.Tensor;
  const d = maxDiff(got, want);
  tf.dispose([x, logits, got, want]);
  sub.dispose();
  return d;
}

describe('import: cutting a Layers model into units', function () {
  this.timeout(120_000);
  let root: string;
  const registered: string[] = [];
  const reg = async (name: string, src: string) => {
    registered.push(name);
    return importModel(name, src);
  };

  before(async () => {
    await useTestBackend();
    root = await tempDir();
  });

  after(async () => {
    registered.forEach((n) => unregisterModel(n));
    await removeDir(root);
  });

  it('sequential CNN: units fold BN/activation/dropout into the layer before; softmax stripped; weights from the file', async () => {
    const m = sequentialCnn();
    seedWeights(m, 2);
    const dir = await saveModel(m, path.join(root, 'seq'));
    const info = await reg('my-cnn', dir);
    assert.deepEqual(info.unitNames, ['conv1', 'pool1', 'conv2', 'flat', 'fc1', 'probs']);
    assert.deepEqual(info.inputShape, [10, 10, 1]);
    assert.equal(info.numClasses, 4);
    const spec = modelSpec('my-cnn');
    const layersOf = spec.units.map((u) => (u.layer.kind === 'imported' ? u.layer.layers.map((l) => l.name) : []));
    assert.deepEqual(layersOf, [['conv1'], ['pool1'], ['conv2', 'bn2', 'relu2'], ['flat', 'drop'], ['fc1'], ['probs']]);
    assert.deepEqual(spec.imported!.softmax, { kind: 'activation', layer: 'probs' });
    assert.equal(spec.imported!.topology, 'Sequential');
    assert.match(spec.imported!.sha256, /^[0-9a-f]{64}$/);
    // shapes at every cut, and the initial weights are the file's (in the model's own per-layer order)
    assert.deepEqual(unitOutputShape('my-cnn', 1), [8, 8, 4]);
    assert.deepEqual(unitOutputShape('my-cnn', 3), [4, 4, 6]);
    assert.deepEqual(unitOutputShape('my-cnn', 6), [4]);
    const sub = SubModel.create('my-cnn', 0, 6, 1);
    const want = m.layers.flatMap((l) => l.getWeights().map((t) => t.dataSync() as Float32Array));
    assert.equal(maxAbsDiff(sub.getWeights(), want), 0);
    assert.deepEqual(sub.weightNames(), [
      'conv1/kernel', 'conv1/bias', 'conv2/kernel', 'conv2/bias', 'bn2/gamma', 'bn2/beta', 'bn2/moving_mean', 'bn2/moving_variance',
      'fc1/kernel', 'fc1/bias', 'probs/kernel', 'probs/bias',
    ]);
    assert.deepEqual(sub.weightUnits(), [0, 0, 2, 2, 2, 2, 2, 2, 4, 4, 5, 5]);
    // seed does not matter for imported weights
    const other = SubModel.create('my-cnn', 0, 6, 999);
    assert.equal(maxAbsDiff(other.getWeights(), want), 0);
    [sub, other].forEach((s) => s.dispose());
    // the training-side model computes the logits of the original
    assert.ok(compareWithOriginal('my-cnn', m, true) < 1e-5);
    m.dispose();
  });

  it('the size and profile functions the planner and roles use work on it', async () => {
    const name = 'my-cnn';
    const L = modelInfo(name).numUnits;
    const all = tierWeightShapes(name, 0, L);
    assert.deepEqual(tierWeightShapes(name, 2, 3), [[2, 2, 4, 6], [6], [6], [6], [6], [6]]);
    assert.deepEqual(
      [...tierWeightShapes(name, 0, 2), ...tierWeightShapes(name, 2, 5), ...tierWeightShapes(name, 5, L)],
      all,
    );
    const params = all.reduce((a, s) => a + prod(s), 0);
    assert.deepEqual(modelSizes(name), { maxActivationElementsPerSample: 8 * 8 * 4, weightElements: params });
    assert.deepEqual(modelSizes(name, { c1: 3, c2: 4 }), { maxActivationElementsPerSample: 96, weightElements: params });
    const p = modelProfile(name);
    assert.equal(p.units.length, L);
    assert.equal(p.units.reduce((a, u) => a + u.paramBytes, 0), 4 * params);
    assert.equal(p.units[0]!.flopsPerSample, 8 * 8 * 4 * (2 * 9 + 2)); // as the zoo counts a relu conv
    assert.equal(p.units[1]!.flopsPerSample, 4 * 4 * 4 * 4);
    assert.equal(p.units.at(-1)!.outputBytesPerSample, 16);
    assert.equal(p.units[4]!.flopsPerSample, 12 * (2 * 96 + 2));
    assert.equal(p.units[5]!.flopsPerSample, 4 * (2 * 12 + 1)); // the stripped softmax is not counted
    assert.ok(p.memPerSampleBytes[2]! >= 8 * 3 * 4 * 4 * 6, 'conv2, bn2 and relu2 outputs');
    const before = tf.memory().numTensors;
    const r = await profileUnits(name, 4, 2);
    assert.equal(r.fwdMsPerSample.length, L);
    assert.ok([...r.fwdMsPerSample, ...r.bwdMsPerSample, ...r.peakBytes].every((v) => Number.isFinite(v) && v >= 0));
    assert.equal(tf.memory().numTensors, before);
  });

  it('registry: listed after the zoo, refuses zoo and duplicate names, replace and unregister', async () => {
    assert.deepEqual(listModels().slice(0, 4), ['mlp-mnist', 'cnn-mnist', 'cnn-cifar', 'resnet-mini']);
    assert.ok(listModels().includes('my-cnn'));
    const spec = modelSpec('my-cnn');
    assert.throws(() => registerModel('cnn-mnist', spec), /'cnn-mnist' is a zoo model/);
    assert.throws(() => registerModel('my-cnn', spec), /already registered.*replace: true/);
    assert.throws(() => registerModel('bad name!', spec), /model name 'bad name!' is not valid/);
    registered.push('copy');
    const info = registerModel('copy', spec);
    assert.equal(info.name, 'copy');
    assert.equal(modelSpec('copy').name, 'copy');
    assert.equal(modelSpec('my-cnn').name, 'my-cnn');
    const sub = SubModel.create('copy', 0, 2, 0); // keeps working after the name goes away
    assert.ok(unregisterModel('copy'));
    assert.throws(() => modelInfo('copy'), /unknown model 'copy' \(valid: mlp-mnist, .*my-cnn/);
    assert.deepEqual(sub.outputShape(), [4, 4, 4]);
    sub.dispose();
    registerModel('my-cnn', spec, { replace: true });
  });

  it('functional linear chain with a trailing Softmax layer', async () => {
    const m = functionalChain();
    seedWeights(m, 4);
    const dir = await saveModel(m, path.join(root, 'func'));
    const info = await reg('my-chain', dir);
    assert.deepEqual(info.unitNames, ['h1', 'h2', 'logits']);
    assert.deepEqual(info.inputShape, [6]);
    assert.equal(info.numClasses, 3);
    const spec = modelSpec('my-chain');
    assert.equal(spec.imported!.topology, 'Model');
    assert.equal(spec.imported!.inputName, 'features');
    assert.equal(spec.imported!.softmax?.kind, 'layer');
    assert.deepEqual(rangeWeightSpecs('my-chain', 1, 2).map((s) => `${s.layer}/${s.param}`), ['h2/kernel', 'h2/bias']);
    assert.ok(compareWithOriginal('my-chain', m, true) < 1e-5);
    m.dispose();
  });

  it('a model already in memory (modelSpecFromLayersModel), logits output kept as is', () => {
    const x = tfl.input({ shape: [3] });
    const y = tfl.layers.dense({ units: 2, name: 'only' }).apply(x) as tfl.SymbolicTensor;
    const m = tfl.model({ inputs: x, outputs: y, name: 'tiny' });
    const spec = modelSpecFromLayersModel(m);
    assert.equal(spec.name, 'tiny');
    assert.equal(spec.imported!.softmax, null);
    assert.equal(spec.units.length, 1);
    m.dispose();
  });

  it('the tensorflowjs Keras converter format (InputLayer, snake_case configs, groups and shards)', async () => {
    const { dir } = await writeKerasStyleModel(path.join(root, 'keras'), 7);
    const info = await reg('keras-cnn', dir);
    assert.deepEqual(info.unitNames, ['conv2d', 'max_pooling2d', 'flatten', 'dense']);
    assert.deepEqual(info.inputShape, [6, 6, 1]);
    const spec = modelSpec('keras-cnn');
    assert.equal(spec.imported!.generatedBy, 'keras v2.15.0');
    assert.equal(spec.imported!.inputName, 'conv2d_input');
    const stock = await tfl.loadLayersModel(fileLoadHandler(dir));
    assert.ok(compareWithOriginal('keras-cnn', stock, true) < 1e-5);
    stock.dispose();
  });

  it('refuses branching graphs, naming the layer', async () => {
    const save = async (m: tfl.LayersModel, name: string) => {
      const d = await saveModel(m, path.join(root, name));
      m.dispose();
      return d;
    };
    const res = await save(residualModel(), 'residual');
    await assert.rejects(importLayersModel(res), /layer 'res_add' \(Add\) joins 2 branches \('res_b', 'img'\).*only sequential models and functional models whose layers form one chain/);
    const fan = await save(fanOutModel(), 'fan');
    await assert.rejects(importLayersModel(fan), /layer 'join' \(Concatenate\) joins 2 branches/);
    // a fan-out with no merge (two outputs) and a dangling branch
    const x = tfl.input({ shape: [4], name: 'in' });
    const a = tfl.layers.dense({ units: 2, name: 'a' }).apply(x) as tfl.SymbolicTensor;
    const b = tfl.layers.dense({ units: 2, name: 'b' }).apply(x) as tfl.SymbolicTensor;
    const two = await save(tfl.model({ inputs: x, outputs: [a, b] }), 'two');
    await assert.rejects(importLayersModel(two), /the model has 2 outputs/);
    const x2 = tfl.input({ shape: [4], name: 'in2' });
    const s = tfl.layers.dense({ units: 3, name: 'shared' });
    const h = s.apply(x2) as tfl.SymbolicTensor;
    const shared = tfl.layers.dense({ units: 4, name: 'back' }).apply(h) as tfl.SymbolicTensor;
    const o = tfl.layers.dense({ units: 2, name: 'o' }).apply(s.apply(shared) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
    assert.throws(() => modelSpecFromLayersModel(tfl.model({ inputs: x2, outputs: o })), /layer 'shared' \(Dense\) is applied 2 times/);
  });

  it('refuses outputs that are not class scores', async () => {
    const mk = (units: number, activation: 'relu' | 'sigmoid' | 'linear', shape = [4]) => {
      const m = tfl.sequential({ name: `out_${activation}` });
      m.add(tfl.layers.dense({ inputShape: shape, units, activation, name: 'last' }));
      return m;
    };
    assert.throws(() => modelSpecFromLayersModel(mk(3, 'relu')), /layer 'last' \(Dense\) has activation 'relu'; the model must end in class logits/);
    assert.throws(() => modelSpecFromLayersModel(mk(1, 'sigmoid')), /outputs \[1\] per sample.*use 2 softmax outputs rather than 1 sigmoid/);
    assert.throws(() => modelSpecFromLayersModel(mk(3, 'linear', [2, 4])), /outputs \[2,3\] per sample/);
    const r = tfl.sequential();
    r.add(tfl.layers.dense({ inputShape: [4], units: 3, name: 'd' }));
    r.add(tfl.layers.reLU({ name: 'r' }));
    assert.throws(() => modelSpecFromLayersModel(r), /layer 'r' \(ReLU\) applies ReLU to the class scores/);
    const n = tfl.sequential();
    n.add(tfl.layers.dense({ inputShape: [null as unknown as number, 4], units: 3, name: 'd' }));
    assert.throws(() => modelSpecFromLayersModel(n), /every dimension but the batch must be fixed/);
  });

  it('refuses a model.json without weights', async () => {
    const m = functionalChain();
    const artifacts = await new Promise<tf.io.ModelArtifacts>((resolve) => {
      void m.save(tf.io.withSaveHandler(async (a) => {
        resolve(a);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }));
    });
    m.dispose();
    await assert.rejects(importLayersModel({ load: async () => ({ modelTopology: artifacts.modelTopology }) }), /lists no weights/);
  });
});
