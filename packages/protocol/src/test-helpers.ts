// Shared by the *.test.ts files of this package (not exported).
import assert from 'node:assert/strict';
import { ProtocolError } from './errors.js';

/** Small seeded PRNG (mulberry32), for reproducible random tests. A copy by necessity: protocol depends on neither runtime nor planner (see test-helpers.test.ts). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFloats(n: number, rand: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/** Asserts fn throws a ProtocolError with the given code. */
export function throwsCode(fn: () => unknown, code: string, msg?: string): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, msg ?? `expected ProtocolError(${code}), nothing thrown`);
  assert.ok(caught instanceof ProtocolError, `${msg ?? ''} expected ProtocolError(${code}), got ${String(caught)}`);
  assert.equal(caught.code, code, `${msg ?? ''} wrong code: ${caught.message}`);
  return caught;
}
