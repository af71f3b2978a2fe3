import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useTestBackend } from '../testing.js';
import { fileLoadHandler, loadModelFiles } from './file-io.js';
import { httpLoadHandler, loadModelHttp } from './http-io.js';
import { removeDir, saveModel, seedWeights, sequentialCnn, tempDir, writeKerasStyleModel } from './testing.js';

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

async function predictSame(model: tfl.LayersModel, loaded: tfl.LayersModel, shape: number[]): Promise<number> {
  const x = tf.randomUniform([3, ...shape], 0, 1, 'float32', 5);
  const a = model.predict(x) as tf.Tensor;
  const b = loaded.predict(x) as tf.Tensor;
  const d = maxDiff(a, b);
  tf.dispose([x, a, b]);
  return d;
}

/** A static file server over `root` on 127.0.0.1 (no directory listing, no path checks: the client must refuse escapes). */
async function serve(root: string, redirectTo?: () => string): Promise<{ url: string; close: () => Promise<void>; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    requests.push(p);
    if (redirectTo && p.startsWith('/redir/') && p.endsWith('.bin')) {
      res.writeHead(302, { location: `${redirectTo()}/cnn${p.slice('/redir'.length)}` }).end();
      return;
    }
    fs.readFile(path.join(root, p)).then(
      (data) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data),
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function editJson(file: string, edit: (j: Record<string, any>) => void): Promise<void> {
  const j = JSON.parse(await fs.readFile(file, 'utf8'));
  edit(j);
  await fs.writeFile(file, JSON.stringify(j));
}

describe('import: loading model files', function () {
  this.timeout(60_000);
  let root: string;
  let model: tfl.Sequential;
  let dir: string;

  before(async () => {
    await useTestBackend();
    root = await tempDir();
    model = sequentialCnn();
    seedWeights(model, 1);
    dir = await saveModel(model, path.join(root, 'cnn'));
  });

  after(async () => {
    model.dispose();
    await removeDir(root);
  });

  it('fileSaveHandler writes what tfjs-node would; fileLoadHandler loads it by directory, model.json path or file:// URL', async () => {
    const files = (await fs.readdir(dir)).sort();
    assert.deepEqual(files, ['model.json', 'weights.bin']);
    const json = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.equal(json.modelTopology.class_name, 'Sequential');
    for (const src of [dir, path.join(dir, 'model.json'), pathToFileURL(path.join(dir, 'model.json')).href]) {
      const loaded = await tfl.loadLayersModel(fileLoadHandler(src));
      assert.ok((await predictSame(model, loaded, [10, 10, 1])) < 1e-6, src);
      loaded.dispose();
    }
  });

  it('sharded saves (group1-shardKofN.bin) load the same', async () => {
    const d = await saveModel(model, path.join(root, 'sharded'), { shardBytes: 100 });
    const shards = (await fs.readdir(d)).filter((f) => f.endsWith('.bin'));
    assert.ok(shards.length > 3, `${shards.length} shards`);
    const loaded = await tfl.loadLayersModel(fileLoadHandler(d));
    assert.ok((await predictSame(model, loaded, [10, 10, 1])) < 1e-6);
    loaded.dispose();
  });

  it('reads a Keras-converter model.json (model_config, InputLayer, two groups, a split shard)', async () => {
    const { dir: kd, weights } = await writeKerasStyleModel(path.join(root, 'keras'), 3);
    const a = await loadModelFiles(kd);
    assert.equal(a.generatedBy, 'keras v2.15.0');
    assert.equal(a.convertedBy, 'TensorFlow.js Converter v4.22.0');
    assert.deepEqual(a.weightSpecs!.map((w) => w.name), Object.keys(weights));
    const loaded = await tfl.loadLayersModel(fileLoadHandler(kd));
    assert.deepEqual(Array.from(loaded.getLayer('dense').getWeights()[1]!.dataSync()), Array.from(weights['dense/bias']!));
    loaded.dispose();
  });

  it('readable errors: missing model, directory without model.json, bad JSON, not a Layers model', async () => {
    await assert.rejects(loadModelFiles(path.join(root, 'nope')), /no model at .*nope \(no such file or directory\)/);
    await fs.mkdir(path.join(root, 'empty'));
    await assert.rejects(loadModelFiles(path.join(root, 'empty')), /directory .*empty has no model.json/);
    const bad = path.join(root, 'bad');
    await fs.mkdir(bad);
    await fs.writeFile(path.join(bad, 'model.json'), '{"format": "layers-model", ');
    await assert.rejects(loadModelFiles(bad), /bad.model\.json: not valid JSON/);
    await fs.writeFile(path.join(bad, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [] } }));
    await assert.rejects(loadModelFiles(bad), /format 'graph-model' is not a tfjs Layers model/);
    await fs.writeFile(path.join(bad, 'model.json'), JSON.stringify({ format: 'layers-model' }));
    await assert.rejects(loadModelFiles(bad), /modelTopology is missing/);
    await fs.writeFile(path.join(bad, 'model.json'), '[1, 2]');
    await assert.rejects(loadModelFiles(bad), /expected a JSON object/);
  });

  it('readable errors: inconsistent weights manifest', async () => {
    const check = async (name: string, edit: (j: Record<string, any>) => void, re: RegExp, after?: (d: string) => Promise<void>) => {
      const d = path.join(root, name);
      await fs.cp(dir, d, { recursive: true });
      await editJson(path.join(d, 'model.json'), edit);
      if (after) await after(d);
      await assert.rejects(loadModelFiles(d), re, name);
    };
    await check('dtype', (j) => (j.weightsManifest[0].weights[0].dtype = 'string'), /weights\[0\] \(conv1\/kernel\): dtype 'string' is not supported/);
    await check('shape', (j) => (j.weightsManifest[0].weights[1].shape = [2.5]), /shape must be an array of integers/);
    await check('dup', (j) => j.weightsManifest[0].weights.push(j.weightsManifest[0].weights[0]), /weight 'conv1\/kernel' is listed twice/);
    await check('nopaths', (j) => (j.weightsManifest[0].paths = []), /paths must be a non-empty array/);
    await check('bigger', (j) => (j.weightsManifest[0].weights[1].shape = [5]), /hold \d+ bytes, but its \d+ weights \(conv1\/kernel, conv1\/bias, .*\) take \d+/);
    await check('missing', (j) => (j.weightsManifest[0].paths = ['other.bin']), /weight file 'other.bin' is missing/);
    await check('truncated', () => undefined, /hold 100 bytes/, async (d) => {
      await fs.truncate(path.join(d, 'weights.bin'), 100);
    });
  });

  it('weight paths must stay inside the model directory (.., absolute, symlinks)', async () => {
    const secret = path.join(root, 'secret.bin');
    await fs.copyFile(path.join(dir, 'weights.bin'), secret);
    const variants: [string, (j: Record<string, any>) => void, RegExp][] = [
      ['dotdot', (j) => (j.weightsManifest[0].paths = ['../secret.bin']), /weight path '..\/secret.bin' leaves the model's directory/],
      ['absolute', (j) => (j.weightsManifest[0].paths = [secret]), /must be relative to the model's directory/],
      ['url', (j) => (j.weightsManifest[0].paths = ['file:///etc/passwd']), /must be relative/],
    ];
    for (const [name, edit, re] of variants) {
      const d = path.join(root, `esc-${name}`);
      await fs.cp(dir, d, { recursive: true });
      await editJson(path.join(d, 'model.json'), edit);
      await assert.rejects(loadModelFiles(d), re, name);
    }
    const d = path.join(root, 'esc-link');
    await fs.cp(dir, d, { recursive: true });
    await fs.rm(path.join(d, 'weights.bin'));
    await fs.symlink(secret, path.join(d, 'weights.bin'));
    await assert.rejects(loadModelFiles(d), /leaves the model's directory .* \(it links to .*secret.bin\)/);
  });

  it('a cap on the weight bytes, checked before reading', async () => {
    await assert.rejects(loadModelFiles(dir, { maxWeightBytes: 100 }), /the weights take \d+ bytes, more than the limit of 100/);
  });

  describe('over http', () => {
    let server: Awaited<ReturnType<typeof serve>>;
    let other: Awaited<ReturnType<typeof serve>>; // another origin (port)
    before(async () => {
      other = await serve(root);
      server = await serve(root, () => other.url);
    });
    after(async () => {
      await server.close();
      await other.close();
    });

    it('loads model.json and its shards with fetch', async () => {
      await saveModel(model, path.join(root, 'served'), { shardBytes: 256 });
      const loaded = await tfl.loadLayersModel(httpLoadHandler(`${server.url}/served/model.json`));
      assert.ok((await predictSame(model, loaded, [10, 10, 1])) < 1e-6);
      loaded.dispose();
      assert.ok(server.requests.filter((r) => r.startsWith('/served/group1-shard')).length > 1);
    });

    it('readable errors: 404, bad manifest sizes, shard paths leaving the directory or origin', async () => {
      await assert.rejects(loadModelHttp(`${server.url}/nothing/model.json`), /GET http:\/\/127.0.0.1:\d+\/nothing\/model.json: 404 Not Found \(model.json\)/);
      await assert.rejects(loadModelHttp('ftp://example.org/model.json'), /only http and https/);
      const d = path.join(root, 'web-esc');
      await fs.cp(dir, d, { recursive: true });
      await editJson(path.join(d, 'model.json'), (j) => (j.weightsManifest[0].paths = ['../secret.bin']));
      await assert.rejects(loadModelHttp(`${server.url}/web-esc/model.json`), /weight path '..\/secret.bin' leaves the model's directory/);
      await editJson(path.join(d, 'model.json'), (j) => (j.weightsManifest[0].paths = ['http://example.org/w.bin']));
      await assert.rejects(loadModelHttp(`${server.url}/web-esc/model.json`), /leaves the model's directory/);
      await editJson(path.join(d, 'model.json'), (j) => {
        j.weightsManifest[0].paths = ['weights.bin'];
        j.weightsManifest[0].weights[1].shape = [1];
      });
      await assert.rejects(loadModelHttp(`${server.url}/web-esc/model.json`), /bytes is more than the \d+ expected for weights of group 0/);
      assert.ok(!server.requests.includes('/secret.bin'), 'never fetched outside the directory');
      await fs.cp(dir, path.join(root, 'redir'), { recursive: true });
      await assert.rejects(loadModelHttp(`${server.url}/redir/model.json`), /redirected to another origin \(http:\/\/127.0.0.1:\d+\)/);
    });
  });
});
