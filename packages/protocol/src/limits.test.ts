import assert from 'node:assert/strict';
import {
  EVENTS, HARD_MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES, encodeMessage, encodeTensor, messageLimitFor,
  requiredMessageBytes,
} from './index.js';

describe('message limits', () => {
  it('has an explicit default between socket.io\'s 1 MB and the hard cap', () => {
    assert.equal(MAX_MESSAGE_BYTES, 64 * 1024 * 1024);
    assert.ok(MAX_MESSAGE_BYTES > 1e6 && MAX_MESSAGE_BYTES <= HARD_MAX_MESSAGE_BYTES);
  });

  it('messageLimitFor covers the biggest real message of a plan', () => {
    const p = { batchSize: 16, maxActivationElementsPerSample: 8 * 12 * 12, devices: 5, weightElements: 50_000 };
    const limit = messageLimitFor(p);
    const n = p.batchSize * p.devices;
    const acts = encodeMessage(EVENTS.activations, {
      header: { runId: 'a-long-run-identifier-0123456789', planVersion: 99, round: 123456, sender: 'edge-with-a-long-name' },
      activations: encodeTensor(new Float32Array(n * 8 * 12 * 12), [n, 8, 12, 12]),
      labels: encodeTensor(new Int32Array(n), [n]),
      slices: Array.from({ length: p.devices }, (_, i) => ({ nodeId: `device-number-${i}`, samples: p.batchSize })),
    });
    assert.ok(acts.byteLength <= requiredMessageBytes(p), `${acts.byteLength} > ${requiredMessageBytes(p)}`);
    assert.ok(requiredMessageBytes(p) <= limit);
    const weights = encodeMessage(EVENTS.weightsDown, {
      header: { runId: 'r', planVersion: 1, round: 1 },
      tensors: [encodeTensor(new Float32Array(25_000), [25_000]), encodeTensor(new Float32Array(25_000), [100, 250])],
      samples: 1,
    });
    assert.ok(weights.byteLength <= limit);
    assert.equal(limit % (1024 * 1024), 0);
  });

  it('is at least MIN_MESSAGE_BYTES and never above the hard cap', () => {
    assert.equal(messageLimitFor({ batchSize: 1, maxActivationElementsPerSample: 1, devices: 1, weightElements: 1 }), MIN_MESSAGE_BYTES);
    const huge = { batchSize: 1024, maxActivationElementsPerSample: 1e6, devices: 64, weightElements: 1e9 };
    assert.equal(messageLimitFor(huge), HARD_MAX_MESSAGE_BYTES);
    assert.ok(requiredMessageBytes(huge) > HARD_MAX_MESSAGE_BYTES);
    assert.throws(() => messageLimitFor({ batchSize: -1, maxActivationElementsPerSample: 1, devices: 1, weightElements: 1 }), RangeError);
    assert.throws(() => messageLimitFor({ batchSize: NaN, maxActivationElementsPerSample: 1, devices: 1, weightElements: 1 }), RangeError);
  });
});
