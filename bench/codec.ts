// Codec benchmark: encode + decode of a full Activations message carrying a
// 4 MB float32 activation tensor (raw, fp16, int8), against a plain Buffer
// copy of the same 4 MB measured in the same run (DESIGN.md section 8).
//
//   node bench/dist/codec.js      prints a table, writes bench-results/codec.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  EVENTS, allFinite, decodeMessage, encodeMessage, encodeTensor, expectTensor, type TensorCodecName,
} from '@hsfl/protocol';

const SHAPE = [256, 64, 8, 8]; // 1,048,576 float32 = 4 MiB
const ELEMENTS = SHAPE.reduce((a, b) => a * b, 1);
const BYTES = ELEMENTS * 4;
const MB = 1e6;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Times every op in interleaved rounds (copy, raw, fp16, ... copy, raw, ...)
 * so that the baseline and the codecs see the same machine load; returns
 * per op the median and the best single time in ms.
 */
function timeInterleaved(ops: Record<string, () => unknown>, rounds = 40): Record<string, { median: number; best: number }> {
  const names = Object.keys(ops);
  for (const n of names) for (let i = 0; i < 5; i++) ops[n]!();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      const t0 = performance.now();
      ops[n]!();
      samples[n]!.push(performance.now() - t0);
    }
  }
  return Object.fromEntries(names.map((n) => [n, { median: median(samples[n]!), best: Math.min(...samples[n]!) }]));
}

function makeActivations(): Float32Array {
  // Post-ReLU-like values: non-negative, some zeros, realistic magnitudes.
  const a = new Float32Array(ELEMENTS);
  let s = 12345;
  for (let i = 0; i < ELEMENTS; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const v = (s / 4294967296) * 4 - 1;
    a[i] = v > 0 ? v : 0;
  }
  return a;
}

export async function run(): Promise<Record<string, unknown>> {
  const acts = makeActivations();
  const labels = new Int32Array(SHAPE[0]!).map((_, i) => i % 10);
  const header = { runId: 'bench-run', planVersion: 1, round: 42, sender: 'edge-1' };
  const slices = [0, 1, 2, 3].map((i) => ({ nodeId: `device-${i}`, samples: SHAPE[0]! / 4 }));
  const encode = (codec: TensorCodecName) =>
    encodeMessage(EVENTS.activations, {
      header,
      activations: encodeTensor(acts, SHAPE, codec),
      labels: encodeTensor(labels, [SHAPE[0]!]),
      slices,
    });
  const decode = (payload: Uint8Array) => {
    const m = decodeMessage(EVENTS.activations, payload);
    return expectTensor(m.activations, { shape: [null, 64, 8, 8], dtype: 'float32', finite: true });
  };

  // Baseline: a plain copy of the same 4 MB into a new Buffer.
  const src = Buffer.from(acts.buffer, acts.byteOffset, acts.byteLength);
  const codecs = ['raw', 'fp16', 'int8'] as const;
  const payloads = Object.fromEntries(codecs.map((c) => [c, encode(c)])) as Record<TensorCodecName, Uint8Array>;
  const ops: Record<string, () => unknown> = { copy: () => Buffer.from(src), finite: () => allFinite(acts) };
  for (const c of codecs) {
    ops[`${c}:encode`] = () => encode(c);
    ops[`${c}:decode`] = () => decode(payloads[c]);
    ops[`${c}:roundTrip`] = () => decode(encode(c));
  }
  const t = timeInterleaved(ops);
  const mbps = (ms: number) => BYTES / MB / (ms / 1000);
  const copyMs = t.copy!.median;
  const copyMBps = mbps(copyMs);
  const finiteMs = t.finite!.median;

  const rows: Record<string, unknown>[] = [];
  for (const codec of codecs) {
    const payload = payloads[codec];
    const back = decode(payload);
    const zeroCopy = back.data.buffer === payload.buffer;
    let maxErr = 0;
    for (let i = 0; i < ELEMENTS; i++) maxErr = Math.max(maxErr, Math.abs(back.data[i]! - acts[i]!));
    const rt = t[`${codec}:roundTrip`]!;
    rows.push({
      codec,
      wireBytes: payload.byteLength,
      encodeMs: +t[`${codec}:encode`]!.median.toFixed(3),
      decodeMs: +t[`${codec}:decode`]!.median.toFixed(3),
      roundTripMs: +rt.median.toFixed(3),
      roundTripMBps: +mbps(rt.median).toFixed(0),
      ratioToCopy: +(copyMs / rt.median).toFixed(3),
      bestRatioToCopy: +(t.copy!.best / rt.best).toFixed(3),
      decodeZeroCopy: zeroCopy,
      maxAbsError: maxErr,
    });
  }

  const result = {
    bench: 'codec',
    node: process.version,
    arch: process.arch,
    tensor: { shape: SHAPE, dtype: 'float32', bytes: BYTES },
    baseline: { what: 'Buffer.from(4 MB)', ms: +copyMs.toFixed(3), bestMs: +t.copy!.best.toFixed(3), MBps: +copyMBps.toFixed(0) },
    finiteCheck: { ms: +finiteMs.toFixed(3), MBps: +(BYTES / MB / (finiteMs / 1000)).toFixed(0) },
    codecs: rows,
    note: 'roundTrip = encodeTensor + encodeMessage + decodeMessage + expectTensor (shape, dtype, finite check). '
      + 'MB/s counts the 4 MB of float32 values. ratioToCopy = roundTrip MB/s / copy MB/s (medians; bestRatioToCopy: '
      + 'best single times), all ops timed in interleaved rounds of the same run.',
  };

  console.log(`\ncodec bench: Activations message, float32 [${SHAPE.join(', ')}] = ${(BYTES / MB).toFixed(2)} MB, node ${process.version} ${process.arch}`);
  console.log(`baseline Buffer copy: ${copyMs.toFixed(3)} ms = ${copyMBps.toFixed(0)} MB/s; finite check alone: ${finiteMs.toFixed(3)} ms`);
  console.log(['codec', 'wire MB', 'encode ms', 'decode ms', 'enc+dec ms', 'enc+dec MB/s', 'x copy', 'x copy best', 'zero-copy', 'max |err|'].map((s) => s.padStart(13)).join(''));
  for (const r of rows) {
    console.log([
      String(r.codec), ((r.wireBytes as number) / MB).toFixed(2), String(r.encodeMs), String(r.decodeMs), String(r.roundTripMs),
      String(r.roundTripMBps), String(r.ratioToCopy), String(r.bestRatioToCopy), String(r.decodeZeroCopy), (r.maxAbsError as number).toExponential(2),
    ].map((s) => s.padStart(13)).join(''));
  }

  const outDir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(`${outDir}codec.json`, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${outDir}codec.json`);
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
