// Deterministic pseudo-random numbers for initialisation, data splits and shuffles.
// Everything in @hsfl/runtime that is "random" derives from these, so a seed fixes a run.

/** Mixes any number of integers (or finite numbers) into one 32-bit seed. Order matters. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9 | 0;
  for (const p of parts) {
    // Fold non-integers and big numbers into 32 bits deterministically.
    let v = Number.isInteger(p) && Math.abs(p) < 2 ** 31 ? p | 0 : hashNumber(p);
    v = Math.imul(v ^ (v >>> 16), 0x85ebca6b);
    v = Math.imul(v ^ (v >>> 13), 0xc2b2ae35);
    v ^= v >>> 16;
    h = Math.imul(h ^ v, 0x27d4eb2d) + 0x165667b1;
    h ^= h >>> 15;
  }
  return h >>> 0;
}

function hashNumber(x: number): number {
  if (!Number.isFinite(x)) throw new Error(`seed must be a finite number, got ${x}`);
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x, true);
  return (buf.getUint32(0, true) ^ Math.imul(buf.getUint32(4, true), 0x9e3779b1)) | 0;
}

/**
 * mulberry32: a small seeded uniform generator on [0, 1), taking the seed's
 * low 32 bits as they are. The project's one definition in @hsfl/runtime;
 * tests use it directly where they need a plain, well-known sequence.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seeded uniform generator on [0, 1) (mulberry32 over a mixed seed).
 * The same seed always yields the same sequence, on every platform.
 */
export function seededRandom(seed: number): () => number {
  return mulberry32(mixSeed(seed));
}

/** Standard normal sample (Box-Muller) from a uniform generator. */
export function normal(rand: () => number): number {
  let u = rand();
  while (u <= Number.MIN_VALUE) u = rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, 1) sample (Marsaglia-Tsang; boosted for shape < 1). */
export function gamma(shape: number, rand: () => number): number {
  if (!(shape > 0)) throw new Error(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) {
    let u = rand();
    while (u <= Number.MIN_VALUE) u = rand();
    return gamma(shape + 1, rand) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rand);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** In-place Fisher-Yates shuffle. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(a: T, rand: () => number): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}
