import assert from 'node:assert/strict';
import {
  EVENTS, EVENT_TYPES, decodeMessage, encodeMessage, encodeTensor, decodeTensor, expectTensor, messageType,
  ProtocolError, Role, Tier, Codec, DType, MAX_MESSAGE_BYTES,
  type EventName, type MessageInitOf,
} from './index.js';
import { rng, randomFloats, throwsCode } from './test-helpers.js';

const header = (round = 3) => ({ runId: 'run-42', planVersion: 5, round, sender: 'edge-1' });

const plan = {
  runId: 'run-42', version: 5, model: 'mnist-cnn', c1: 2, c2: 5, i1: 1, i2: 4, batchSize: 32, lr: 0.5,
  rounds: 100, evalEvery: 10, codec: Codec.CODEC_FP16, seed: 7, deadlineMs: 30000, aggregator: 'fedavg',
};

/** A message with every field set to a non-default value, for every event. */
function fixtures(): { [E in EventName]: MessageInitOf<E> } {
  const rand = rng(1);
  return {
    [EVENTS.hello]: { nodeId: 'dev-1', role: Role.ROLE_DEVICE, token: 's3cret', backend: 'wasm', numSamples: 2500, software: 'hsfl-device 0.1', host: 'pi-4', sampleShape: [28, 28, 1], numClasses: 10 },
    [EVENTS.welcome]: {
      runId: 'run-42', plan, nextRound: 12, parentId: 'edge-1',
      deviceWeights: [encodeTensor(randomFloats(12, rand), [3, 4]), encodeTensor(randomFloats(4, rand), [4])],
      edgeWeights: [encodeTensor(randomFloats(6, rand), [2, 3], 'fp16')],
    },
    [EVENTS.roundStart]: { header: header(), syncDevices: true, syncEdges: true },
    [EVENTS.activations]: {
      header: header(),
      activations: encodeTensor(randomFloats(2 * 8 * 3 * 3, rand), [2, 8, 3, 3]),
      labels: encodeTensor(new Int32Array([3, 9]), [2]),
      slices: [{ nodeId: 'dev-1', samples: 1 }, { nodeId: 'dev-2', samples: 1 }],
    },
    [EVENTS.gradients]: { header: header(), gradients: encodeTensor(randomFloats(10, rand), [2, 5], 'int8') },
    [EVENTS.roundDone]: {
      header: header(), samples: 64, computeMs: 12.25, maxChildComputeMs: 40.5, waitMs: 3.125,
      bytesDownUp: 2 ** 40 + 17, bytesDownDown: 123456789, late: ['dev-3', 'dev-4'], gradSqStart: 2, gradSq: [0.5, 0.125],
    },
    [EVENTS.weightsUp]: { header: header(), tier: Tier.TIER_EDGE, tensors: [encodeTensor(randomFloats(5, rand), [5])], samples: 2 ** 33 },
    [EVENTS.weightsDown]: { header: header(), tier: Tier.TIER_DEVICE, tensors: [encodeTensor(randomFloats(5, rand), [5, 1])], samples: 640 },
    [EVENTS.evalReport]: { header: header(), loss: 0.3125, accuracy: 0.9875, samples: 10000 },
    [EVENTS.heartbeat]: { nodeId: 'dev-1', timeMs: 1764150000123 },
    [EVENTS.error]: { code: 'stale', message: 'round 2 is over', event: EVENTS.activations, header: header(2) },
    [EVENTS.runEnd]: { runId: 'run-42', reason: 'finished' },
    [EVENTS.goodbye]: { reason: 'coordinator restarting', permanent: true },
    [EVENTS.revocations]: { serials: ['1A2B', '3C4D'] },
    [EVENTS.nodeStatus]: {
      nodeId: 'dev-9', role: Role.ROLE_DEVICE, parentId: 'edge-1', connected: true, backend: 'cpu',
      numSamples: 1000, host: 'jetson', reason: 'joined',
    },
    [EVENTS.capacityRequest]: { model: 'cnn-mnist', batchSize: 32, probeBytes: 1 << 20 },
    [EVENTS.capacityReport]: {
      nodeId: 'dev-9', role: Role.ROLE_DEVICE, parentId: 'edge-1', backend: 'wasm', host: 'pi-4', model: 'cnn-mnist', batchSize: 32,
      fwdMsPerSample: [0.5, 0.25], bwdMsPerSample: [1.5, 0.75], peakBytes: [1e6, 2e5], memTotalBytes: 2 ** 33, memFreeBytes: 2 ** 31,
      upBytesPerSec: 1.25e6, downBytesPerSec: 2.5e6, rttMs: 3.5, cpus: 4, measuredAtMs: 1764150000123,
    },
    [EVENTS.probe]: { id: 7, payload: new Uint8Array([1, 2, 3, 4]), replyBytes: 1024 },
    [EVENTS.probeReply]: { id: 7, payload: new Uint8Array([5, 6, 7]) },
  };
}

/** Plain-data view of a message for comparison: bytes as arrays, tensors decoded, padding dropped. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('data' in o && 'shape' in o && 'dtype' in o) {
      const d = decodeTensor(o as never);
      return { dtype: d.dtype, shape: d.shape, data: Array.from(d.data), codec: o.codec ?? 0, scale: Math.fround((o.scale as number) ?? 0) };
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) out[k] = normalize(o[k]);
    return out;
  }
  return v;
}

describe('protocol messages', () => {
  it('has one event per message kind, all distinct and namespaced', () => {
    const names = Object.values(EVENTS);
    assert.equal(new Set(names).size, names.length);
    for (const n of names) assert.match(n, /^hsfl:[a-z-]+$/);
    assert.deepEqual(Object.keys(EVENT_TYPES).sort(), [...names].sort());
    assert.deepEqual(Object.keys(fixtures()).sort(), [...names].sort());
  });

  for (const event of Object.values(EVENTS)) {
    it(`round-trips ${event} with every field set`, () => {
      const msg = fixtures()[event];
      const bytes = encodeMessage(event, msg as never);
      const back = decodeMessage(event, bytes);
      assert.deepStrictEqual(normalize(back), normalize(msg));
    });
  }

  it('fills proto3 defaults and keeps 64-bit counts as numbers', () => {
    const m = decodeMessage(EVENTS.roundDone, encodeMessage(EVENTS.roundDone, { header: header() }));
    assert.equal(m.samples, 0);
    assert.equal(m.bytesDownUp, 0);
    assert.deepEqual(m.late, []);
    const w = decodeMessage(EVENTS.weightsUp, encodeMessage(EVENTS.weightsUp, { header: header(), samples: 2 ** 52 + 1 }));
    assert.equal(typeof w.samples, 'number');
    assert.equal(w.samples, 2 ** 52 + 1);
    const e = decodeMessage(EVENTS.error, encodeMessage(EVENTS.error, { code: 'x' }));
    assert.equal(e.header, null);
  });

  it('accepts Buffer, Uint8Array at an offset, ArrayBuffer and DataView payloads', () => {
    const bytes = encodeMessage(EVENTS.runEnd, { runId: 'r', reason: 'done' });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const ab = new ArrayBuffer(bytes.length);
    new Uint8Array(ab).set(bytes);
    for (const p of [Buffer.from(bytes), shifted.subarray(3), ab, new DataView(ab)]) {
      assert.deepEqual(decodeMessage(EVENTS.runEnd, p), { runId: 'r', reason: 'done' });
    }
  });

  it('rejects non-binary payloads as malformed', () => {
    for (const p of ['hello', 42, null, undefined, { a: 1 }, [1, 2, 3], true]) {
      throwsCode(() => decodeMessage(EVENTS.heartbeat, p), 'malformed', `payload ${JSON.stringify(p)}`);
    }
  });

  it('rejects unknown events', () => {
    throwsCode(() => decodeMessage('hsfl:nope' as EventName, new Uint8Array(0)), 'unknown_event');
    throwsCode(() => encodeMessage('constructor' as EventName, {} as never), 'unknown_event');
  });

  it('rejects payloads over the limit before decoding them', () => {
    const bytes = encodeMessage(EVENTS.activations, fixtures()[EVENTS.activations]);
    throwsCode(() => decodeMessage(EVENTS.activations, bytes, { maxBytes: bytes.length - 1 }), 'too_large');
    decodeMessage(EVENTS.activations, bytes, { maxBytes: bytes.length });
    throwsCode(() => decodeMessage(EVENTS.activations, new Uint8Array(MAX_MESSAGE_BYTES + 1)), 'too_large');
  });

  it('rejects messages missing a required field, on decode and on encode', () => {
    const full = fixtures()[EVENTS.activations];
    const raw = (o: object) => messageType('Activations').encode(o).finish();
    throwsCode(() => decodeMessage(EVENTS.activations, raw({ ...full, header: undefined })), 'malformed');
    throwsCode(() => decodeMessage(EVENTS.activations, raw({ ...full, labels: undefined })), 'malformed');
    throwsCode(() => decodeMessage(EVENTS.gradients, new Uint8Array(0)), 'malformed');
    throwsCode(() => decodeMessage(EVENTS.welcome, new Uint8Array(0)), 'malformed');
    throwsCode(() => encodeMessage(EVENTS.gradients, { header: header() } as never), 'malformed');
    throwsCode(() => encodeMessage(EVENTS.roundStart, { syncDevices: true } as never), 'malformed');
    throwsCode(() => encodeMessage(EVENTS.hello, { numSamples: 'many' } as never), 'malformed');
  });

  it('rejects unknown enum values and inexact 64-bit integers', () => {
    const hello = messageType('Hello').encode({ nodeId: 'x', role: 9 }).finish();
    throwsCode(() => decodeMessage(EVENTS.hello, hello), 'malformed');
    const w = messageType('Weights').encode({ header: header(), tier: 7 }).finish();
    throwsCode(() => decodeMessage(EVENTS.weightsUp, w), 'malformed');
    const big = messageType('Heartbeat').encode({ nodeId: 'x', timeMs: '18446744073709551615' }).finish();
    throwsCode(() => decodeMessage(EVENTS.heartbeat, big), 'malformed');
  });

  it('rejects inconsistent tensors at decode time (bad_tensor / bad_shape / limit)', () => {
    const enc = (t: object) => messageType('Gradients').encode({ header: header(), gradients: t }).finish();
    const bytes12 = new Uint8Array(12);
    throwsCode(() => decodeMessage(EVENTS.gradients, enc({ shape: [2, 2], data: bytes12 })), 'bad_tensor');
    throwsCode(() => decodeMessage(EVENTS.gradients, enc({ shape: [3], data: bytes12, dtype: 5 })), 'bad_tensor');
    throwsCode(() => decodeMessage(EVENTS.gradients, enc({ shape: [3], data: bytes12, codec: 9 })), 'bad_tensor');
    throwsCode(() => decodeMessage(EVENTS.gradients, enc({ shape: [6], data: bytes12, codec: Codec.CODEC_FP16, dtype: DType.DTYPE_INT32 })), 'bad_tensor');
    throwsCode(() => decodeMessage(EVENTS.gradients, enc({ shape: [1, 1, 1, 1, 1, 1, 1, 1, 3], data: bytes12 })), 'bad_shape');
    throwsCode(() => decodeMessage(EVENTS.gradients, enc({ shape: [3], data: bytes12 }), { maxElements: 2 }), 'limit');
    throwsCode(() => decodeMessage(EVENTS.gradients, enc({ shape: [65536, 65536, 65536], data: bytes12 })), 'limit');
    const w = messageType('Weights').encode({ header: header(), tensors: [{ shape: [3], data: bytes12 }, { shape: [4], data: bytes12 }] }).finish();
    throwsCode(() => decodeMessage(EVENTS.weightsDown, w), 'bad_tensor');
  });

  it('reads tensors written by plain protobufjs (no padding) and by other field orders', () => {
    const vals = new Float32Array([1.5, -2, 3.25]);
    const raw = messageType('Gradients').encode({
      header: header(), gradients: { shape: [3], data: new Uint8Array(vals.buffer) },
    }).finish();
    const m = decodeMessage(EVENTS.gradients, raw);
    assert.deepEqual(Array.from(expectTensor(m.gradients, { shape: [3] }).data), [1.5, -2, 3.25]);
  });

  it('places tensor data 4-byte aligned whatever precedes it, so decoding does not copy', () => {
    const rand = rng(2);
    for (let len = 0; len < 70; len++) {
      const acts = randomFloats(5 * 7, rand);
      const msg = {
        header: { runId: 'r'.repeat(len), planVersion: 1, round: len * 1000, sender: 's'.repeat(len % 7) },
        activations: encodeTensor(acts, [5, 7]),
        labels: encodeTensor(new Int32Array([0, 1, 2, 3, 4]), [5]),
        slices: Array.from({ length: len % 5 }, (_, i) => ({ nodeId: `d${i}`, samples: 1 })),
      };
      const bytes = encodeMessage(EVENTS.activations, msg);
      assert.equal(bytes.byteOffset % 4, 0);
      const m = decodeMessage(EVENTS.activations, bytes);
      const a = expectTensor(m.activations, { shape: [5, 7], dtype: 'float32' });
      const l = expectTensor(m.labels, { shape: [5], dtype: 'int32' });
      assert.equal(a.data.buffer, bytes.buffer, `len ${len}: activations were copied`);
      assert.equal(l.data.buffer, bytes.buffer, `len ${len}: labels were copied`);
      assert.deepEqual(Array.from(a.data), Array.from(acts));
      // Repeated tensors (Weights) are aligned too.
      const w = encodeMessage(EVENTS.weightsUp, { header: msg.header, tensors: [encodeTensor(acts, [35]), encodeTensor(acts.subarray(0, 3), [3])], samples: 5 });
      for (const t of decodeMessage(EVENTS.weightsUp, w).tensors) assert.equal(decodeTensor(t).data.buffer, w.buffer);
    }
  });

  it('copies (correctly) when the payload itself sits at a misaligned offset', () => {
    const acts = randomFloats(64, rng(3));
    const bytes = encodeMessage(EVENTS.gradients, { header: header(), gradients: encodeTensor(acts, [8, 8]) });
    for (const shift of [1, 2, 3]) {
      const holder = new Uint8Array(bytes.length + shift);
      holder.set(bytes, shift);
      const payload = holder.subarray(shift);
      const g = expectTensor(decodeMessage(EVENTS.gradients, payload).gradients, { shape: [8, 8] });
      assert.notEqual(g.data.buffer, holder.buffer);
      assert.deepEqual(Array.from(g.data), Array.from(acts));
    }
  });

  it('rejects every truncation of a valid message', () => {
    const bytes = encodeMessage(EVENTS.activations, fixtures()[EVENTS.activations]);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => decodeMessage(EVENTS.activations, bytes.subarray(0, n)), ProtocolError, `prefix of ${n} bytes`);
    }
  });

  it('never fails with anything but ProtocolError on random or corrupted bytes', () => {
    const rand = rng(4);
    const events = Object.values(EVENTS);
    const fx = fixtures();
    let decoded = 0;
    let rejected = 0;
    const attempt = (event: EventName, p: Uint8Array) => {
      try {
        const m = decodeMessage(event, p) as unknown as Record<string, unknown>;
        decoded++;
        // Whatever decodes must also go through the tensor checks without a crash.
        for (const v of Object.values(m)) {
          const list = Array.isArray(v) ? v : [v];
          for (const t of list) {
            if (t && typeof t === 'object' && 'data' in t && 'shape' in t) {
              try {
                expectTensor(t as never, { finite: true });
              } catch (err) {
                if (!(err instanceof ProtocolError)) throw err;
              }
            }
          }
        }
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw new Error(`${event}: non-protocol error ${String(err)} for ${Buffer.from(p).toString('hex')}`);
        rejected++;
      }
    };
    for (let i = 0; i < 400; i++) {
      const len = Math.floor(rand() * 300);
      const p = new Uint8Array(len);
      for (let j = 0; j < len; j++) p[j] = Math.floor(rand() * 256);
      attempt(events[i % events.length]!, p);
    }
    for (let i = 0; i < 400; i++) {
      const event = events[i % events.length]!;
      const p = Uint8Array.from(encodeMessage(event, fx[event] as never));
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips && p.length; k++) p[Math.floor(rand() * p.length)] ^= 1 << Math.floor(rand() * 8);
      attempt(event, p);
    }
    assert.equal(decoded + rejected, 800);
    assert.ok(rejected > 300, `only ${rejected} rejected`);
  });
});
