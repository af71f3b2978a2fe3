import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ImagePreprocessing } from './declaration.js';
import { DataError } from './errors.js';
import { decodeImage, DEFAULT_MAX_PIXELS } from './image-decode.js';
import { openImageFolder } from './image-folder.js';
import { rasterToSample } from './image-transform.js';
import { StreamingDataset } from './streaming.js';
import { tempDir, thrown } from './test-helpers.js';
import { encodeImage, MNIST_CLASS_NAMES, mnistImageDeclaration, toByte, writeMnistImageFolders } from './testdata.js';

const pre = (p: Partial<ImagePreprocessing>): ImagePreprocessing => ({
  height: 4,
  width: 4,
  channels: 3,
  resize: 'stretch',
  normalize: { kind: 'scale' },
  ...p,
});

/** An RGBA raster whose pixel (x, y) has R = 10x + y, G = 100 + y, B = 200 - x. */
function ramp(w: number, h: number) {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([10 * x + y, 100 + y, 200 - x, 255], (y * w + x) * 4);
  return { width: w, height: h, data };
}

describe('rasterToSample', () => {
  it('copies exactly when the size matches, and converts RGB to BT.601 luma', () => {
    const img = ramp(4, 4);
    const rgb = new Float32Array(48);
    rasterToSample(img, pre({}), rgb, 0);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) {
      assert.deepEqual(Array.from(rgb.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3)), [10 * x + y, 100 + y, 200 - x].map((v) => Math.fround(v / 255)));
    }
    const gray = new Float32Array(16);
    rasterToSample(img, pre({ channels: 1 }), gray, 0);
    assert.equal(gray[5], Math.fround((299 * 11 + 587 * 101 + 114 * 199) / 1000 / 255));
  });

  it('center-crop keeps the middle of a wide image; stretch squeezes all of it bilinearly', () => {
    const img = ramp(8, 4);
    const crop = new Float32Array(48);
    rasterToSample(img, pre({ resize: 'center-crop' }), crop, 0);
    // The 4x4 centre box starts at column 2: an exact copy of columns 2..5.
    for (let x = 0; x < 4; x++) assert.equal(crop[x * 3], Math.fround((10 * (x + 2)) / 255));
    const stretch = new Float32Array(48);
    rasterToSample(img, pre({}), stretch, 0);
    // Output column c samples source x = 2c + 0.5: the mean of columns 2c and 2c+1 (R = 20c + 5).
    for (let c = 0; c < 4; c++) assert.ok(Math.abs(stretch[c * 3]! - (20 * c + 5) / 255) < 1e-6);
  });

  it('upsamples with clamped edges and applies mean/std per channel after /255', () => {
    const img = ramp(2, 2);
    const out = new Float32Array(4 * 4 * 3);
    rasterToSample(img, pre({ normalize: { kind: 'mean-std', mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 2] } }), out, 0);
    // Corner output pixels sit beyond the source centres and clamp to the corner source pixels.
    const expect = (v: number, k: number) => (v / 255 - [0.1, 0.2, 0.3][k]!) / [0.5, 0.25, 2][k]!;
    assert.ok(Math.abs(out[0]! - expect(0, 0)) < 1e-6);
    assert.ok(Math.abs(out[(15 * 3) + 1]! - expect(101, 1)) < 1e-6);
    assert.ok(Math.abs(out[(15 * 3) + 2]! - expect(199, 2)) < 1e-6);
  });
});

describe('image folders', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  let files: { path: string; index: number; label: number }[];
  let mnist: { x: Float32Array; y: Int32Array };
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('img'));
    const w = await writeMnistImageFolders(dir, { perClass: 12, split: 'test' });
    files = w.files;
    mnist = w.source;
  });
  afterEach(() => remove());

  it('reads MNIST PNG folders back exactly (8-bit grayscale round trip) with labels and counts', async () => {
    const src = await openImageFolder(dir, mnistImageDeclaration());
    assert.equal(src.size, 120);
    assert.deepEqual(src.report.perClass, Object.fromEntries(MNIST_CLASS_NAMES.map((c) => [c, 12])));
    assert.equal(src.report.skippedCount, 0);
    const data = await new StreamingDataset(src).load();
    assert.equal(data.n, 120);
    const byPath = new Map(files.map((f) => [f.path, f]));
    for (let j = 0; j < data.n; j++) {
      const f = byPath.get(src.describe(data.indices[j]!))!;
      assert.ok(f, `unexpected file ${src.describe(data.indices[j]!)}`);
      assert.equal(data.y[j], f.label);
      assert.equal(mnist.y[f.index], f.label);
      for (let p = 0; p < 784; p++) {
        const want = Math.fround(toByte(mnist.x[f.index * 784 + p]!) / 255);
        if (data.x[j * 784 + p] !== want) assert.fail(`pixel ${p} of ${f.path}: ${data.x[j * 784 + p]} != ${want}`);
      }
    }
  });

  it('skips and counts truncated PNGs, text files named .jpg, other files and loose images; lists them', async () => {
    const png = await fsp.readFile(files[0]!.path);
    await fsp.writeFile(path.join(dir, '3', 'truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
    await fsp.writeFile(path.join(dir, '5', 'notes.jpg'), 'this is not a jpeg\n');
    await fsp.writeFile(path.join(dir, '1', 'README.txt'), 'hello');
    await fsp.writeFile(path.join(dir, '1', '.DS_Store'), 'junk'); // dot-files are not even counted
    await fsp.writeFile(path.join(dir, 'loose.png'), png);
    await fsp.mkdir(path.join(dir, '7', 'more'));
    await fsp.copyFile(files[0]!.path, path.join(dir, '7', 'more', 'nested.png')); // nested: still class 7
    const src = await openImageFolder(dir, mnistImageDeclaration(), { maxReported: 3 });
    const r = src.report;
    assert.equal(src.size, 121);
    assert.equal(r.usable, 121);
    assert.equal(r.perClass['7'], 13);
    assert.equal(r.skippedCount, 4);
    assert.deepEqual(r.skippedByReason, { 'outside-class-folder': 1, 'unsupported-file': 1, truncated: 1, 'not-an-image': 1 });
    assert.equal(r.skipped.length, 3, 'list capped at maxReported');
    const all = (await openImageFolder(dir, mnistImageDeclaration())).report.skipped;
    const bad = all.find((s) => s.where.endsWith('notes.jpg'))!;
    assert.equal(bad.reason, 'not-an-image');
    assert.match(bad.detail, /neither PNG nor JPEG \(starts with 74 68 69 73/);
    assert.match(all.find((s) => s.where.endsWith('truncated.png'))!.detail, /IEND/);
  });

  it('refuses a folder that is not a declared class, by name, unless told to ignore it', async () => {
    await fsp.mkdir(path.join(dir, 'cats'));
    await fsp.mkdir(path.join(dir, 'eleven'));
    const e = await thrown(() => openImageFolder(dir, mnistImageDeclaration()));
    assert.ok(e instanceof DataError);
    assert.equal(e.code, 'unknown-class');
    assert.match(e.message, /folders 'cats', 'eleven' in .* are not declared classes \(declared: 0, 1, 2/);
    const src = await openImageFolder(dir, mnistImageDeclaration(), { ignoreUnknownFolders: true });
    assert.deepEqual(src.report.ignoredFolders, ['cats', 'eleven']);
    assert.equal(src.size, 120);
  });

  it('allows missing class folders (0 in the report) and refuses an empty result clearly', async () => {
    await fsp.rm(path.join(dir, '9'), { recursive: true });
    const src = await openImageFolder(dir, mnistImageDeclaration());
    assert.equal(src.report.perClass['9'], 0);
    const { dir: d2, remove: r2 } = await tempDir('empty');
    try {
      let e = await thrown(() => openImageFolder(d2, mnistImageDeclaration()));
      assert.equal(e.code, 'empty');
      assert.match(e.message, /no usable image in .*: no class folder found \(expected sub-folders named 0, 1, 2/);
      await fsp.mkdir(path.join(d2, '4'));
      await fsp.writeFile(path.join(d2, '4', 'a.png'), 'nope');
      e = await thrown(() => openImageFolder(d2, mnistImageDeclaration()));
      assert.equal(e.code, 'empty');
      assert.match(e.message, /1 skipped \(1 not-an-image\)/);
      assert.equal((e as DataError).report?.skipped[0]?.reason, 'not-an-image');
      e = await thrown(() => openImageFolder(path.join(d2, 'nope'), mnistImageDeclaration()));
      assert.equal(e.code, 'format');
      assert.match(e.message, /does not exist/);
    } finally {
      await r2();
    }
  });

  it('a PNG corrupt inside passes listing by header, then is skipped when read (or at listing with verify: decode)', async () => {
    const victim = files.find((f) => f.label === 2)!.path;
    const png = Buffer.from(await fsp.readFile(victim));
    for (let i = 40; i < png.length - 20; i++) png[i] ^= 0x5a; // IDAT garbage, CRC mismatch; header and IEND intact
    await fsp.writeFile(victim, png);
    const src = await openImageFolder(dir, mnistImageDeclaration());
    assert.equal(src.size, 120);
    const data = await new StreamingDataset(src).load();
    assert.equal(data.n, 119);
    assert.equal(src.report.usable, 119);
    assert.equal(src.report.perClass['2'], 11);
    assert.equal(src.report.skippedByReason['decode-failed'], 1);
    assert.equal(src.report.skipped[0]!.where, victim);
    const strict = await openImageFolder(dir, mnistImageDeclaration(), { verify: 'decode' });
    assert.equal(strict.size, 119);
    assert.equal(strict.report.skippedByReason['decode-failed'], 1);
  });
});

describe('image folders: limits, JPEG, RGB', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('img2')));
  afterEach(() => remove());

  it('skips images over the pixel or byte limit', async () => {
    await writeMnistImageFolders(dir, { perClass: 1, split: 'test' });
    const big = new Float32Array(40 * 40).fill(0.5);
    await fsp.writeFile(path.join(dir, '0', 'big.png'), encodeImage(big, 40, 40, 1));
    const src = await openImageFolder(dir, mnistImageDeclaration(), { maxPixels: 1000 });
    assert.equal(src.size, 10);
    assert.equal(src.report.skippedByReason['too-large'], 1);
    assert.match(src.report.skipped[0]!.detail, /40x40, over the 1000-pixel limit/);
    const e = await thrown(() => openImageFolder(dir, mnistImageDeclaration(), { maxFileBytes: 10 }));
    assert.equal(e.code, 'empty');
    assert.match(e.message, /11 skipped \(11 too-large\)/);
    assert.throws(() => decodeImage(encodeImage(big, 40, 40, 1), { maxPixels: 100 }), /over the 100-pixel limit/);
  });

  it('reads JPEG folders (lossy: close to the source) and RGB PNGs as gray or RGB', async () => {
    const { files, source } = await writeMnistImageFolders(dir, { perClass: 3, split: 'test', format: 'jpeg' });
    const src = await openImageFolder(dir, mnistImageDeclaration());
    assert.equal(src.size, 30);
    const data = await new StreamingDataset(src).load();
    let sumErr = 0;
    for (let j = 0; j < data.n; j++) {
      const f = files.find((q) => q.path === src.describe(data.indices[j]!))!;
      for (let p = 0; p < 784; p++) sumErr += Math.abs(data.x[j * 784 + p]! - source.x[f.index * 784 + p]!);
    }
    assert.ok(sumErr / (30 * 784) < 0.02, `mean abs JPEG error ${sumErr / (30 * 784)}`);

    // An RGB image whose channels differ: gray = BT.601 luma, RGB = channels as stored.
    const rgb = new Float32Array(2 * 2 * 3);
    for (let p = 0; p < 4; p++) rgb.set([0.2, 0.6, 1.0], p * 3);
    const rdir = path.join(dir, 'rgb');
    await fsp.mkdir(path.join(rdir, 'a'), { recursive: true });
    await fsp.mkdir(path.join(rdir, 'b'), { recursive: true });
    await fsp.writeFile(path.join(rdir, 'a', 'x.png'), encodeImage(rgb, 2, 2, 3));
    const declRgb = { kind: 'image' as const, inputShape: [2, 2, 3], classNames: ['a', 'b'], preprocessing: { height: 2, width: 2, channels: 3 as const, resize: 'stretch' as const, normalize: { kind: 'scale' as const } } };
    const asRgb = await new StreamingDataset(await openImageFolder(rdir, declRgb)).load();
    assert.deepEqual(Array.from(asRgb.x.subarray(0, 3)), [51, 153, 255].map((v) => Math.fround(v / 255)));
    const declGray = { ...declRgb, inputShape: [2, 2, 1], preprocessing: { ...declRgb.preprocessing, channels: 1 as const } };
    const asGray = await new StreamingDataset(await openImageFolder(rdir, declGray)).load();
    assert.equal(asGray.x[0], Math.fround((299 * 51 + 587 * 153 + 114 * 255) / 1000 / 255));
    assert.equal(DEFAULT_MAX_PIXELS, 40_000_000);
  });
});
