/**
 * Plain-JS dense linear algebra for the fast cpu kernels.
 *
 * The only product used is the "dot-product form" C[M,N] (+)= A[M,K]·B[N,K]^T:
 * both operands are read along K contiguously, which lets a 4x4 register tile
 * do 16 multiply-adds per 8 loads. On V8 this runs at 3-4 GFLOP/s per core,
 * against 0.3 GFLOP/s for tfjs-backend-cpu's BatchMatMul and ~0.01 GFLOP/s for
 * its Conv2DBackpropFilter (which goes through TensorBuffer.get per element).
 * Accumulation is in float64 (JS numbers) within a K block of 256, float32
 * between blocks.
 */

const KB = 256;

/**
 * C[cOff + i*N + j] (+)= sum_k A[aOff + i*K + k] * B[bOff + j*K + k]
 * for i < M, j < N. With `accumulate` false the C block is overwritten.
 */
export function gemmNT(
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  aOff: number,
  B: Float32Array,
  bOff: number,
  C: Float32Array,
  cOff: number,
  accumulate: boolean,
): void {
  if (!accumulate) C.fill(0, cOff, cOff + M * N);
  if (K === 0 || M === 0 || N === 0) return;
  for (let k0 = 0; k0 < K; k0 += KB) {
    const k1 = k0 + KB < K ? k0 + KB : K;
    let i = 0;
    for (; i + 3 < M; i += 4) {
      const a0 = aOff + i * K;
      const a1 = a0 + K;
      const a2 = a1 + K;
      const a3 = a2 + K;
      const r0 = cOff + i * N;
      const r1 = r0 + N;
      const r2 = r1 + N;
      const r3 = r2 + N;
      let j = 0;
      for (; j + 3 < N; j += 4) {
        const b0 = bOff + j * K;
        const b1 = b0 + K;
        const b2 = b1 + K;
        const b3 = b2 + K;
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let k = k0; k < k1; k++) {
          const x0 = A[a0 + k];
          const x1 = A[a1 + k];
          const x2 = A[a2 + k];
          const x3 = A[a3 + k];
          const y0 = B[b0 + k];
          const y1 = B[b1 + k];
          const y2 = B[b2 + k];
          const y3 = B[b3 + k];
          c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
          c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
          c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
          c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
        }
        C[r0 + j] += c00; C[r0 + j + 1] += c01; C[r0 + j + 2] += c02; C[r0 + j + 3] += c03;
        C[r1 + j] += c10; C[r1 + j + 1] += c11; C[r1 + j + 2] += c12; C[r1 + j + 3] += c13;
        C[r2 + j] += c20; C[r2 + j + 1] += c21; C[r2 + j + 2] += c22; C[r2 + j + 3] += c23;
        C[r3 + j] += c30; C[r3 + j + 1] += c31; C[r3 + j + 2] += c32; C[r3 + j + 3] += c33;
      }
      for (; j < N; j++) {
        const b0 = bOff + j * K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = k0; k < k1; k++) {
          const y = B[b0 + k];
          s0 += A[a0 + k] * y;
          s1 += A[a1 + k] * y;
          s2 += A[a2 + k] * y;
          s3 += A[a3 + k] * y;
        }
        C[r0 + j] += s0;
        C[r1 + j] += s1;
        C[r2 + j] += s2;
        C[r3 + j] += s3;
      }
    }
    for (; i < M; i++) {
      const a0 = aOff + i * K;
      const r0 = cOff + i * N;
      let j = 0;
      for (; j + 3 < N; j += 4) {
        const b0 = bOff + j * K;
        const b1 = b0 + K;
        const b2 = b1 + K;
        const b3 = b2 + K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = k0; k < k1; k++) {
          const x = A[a0 + k];
          s0 += x * B[b0 + k];
          s1 += x * B[b1 + k];
          s2 += x * B[b2 + k];
          s3 += x * B[b3 + k];
        }
        C[r0 + j] += s0;
        C[r0 + j + 1] += s1;
        C[r0 + j + 2] += s2;
        C[r0 + j + 3] += s3;
      }
      for (; j < N; j++) {
        const b0 = bOff + j * K;
        let s = 0;
        for (let k = k0; k < k1; k++) s += A[a0 + k] * B[b0 + k];
        C[r0 + j] += s;
      }
    }
  }
}

/** out[c*R + r] = src[off + r*C + c] for an R x C row-major block (blocked for cache). */
export function transpose2d(
  src: Float32Array,
  off: number,
  R: number,
  C: number,
  out: Float32Array = new Float32Array(R * C),
  outOff = 0,
): Float32Array {
  const T = 32;
  for (let r0 = 0; r0 < R; r0 += T) {
    const r1 = r0 + T < R ? r0 + T : R;
    for (let c0 = 0; c0 < C; c0 += T) {
      const c1 = c0 + T < C ? c0 + T : C;
      for (let r = r0; r < r1; r++) {
        const s = off + r * C;
        for (let c = c0; c < c1; c++) out[outOff + c * R + r] = src[s + c];
      }
    }
  }
  return out;
}
