// From a decoded RGBA raster to the model's input: channel conversion, geometry (stretch or centre crop,
// bilinear), normalisation, written straight into the batch buffer (NHWC float32) so no per-image
// intermediate tensor is allocated.

import type { ImagePreprocessing } from './declaration.js';
import type { RasterRGBA } from './image-decode.js';

/**
 * Writes `img` as a height x width x channels float32 sample into `out` at `offset`.
 *
 * - Alpha is dropped (as PIL's convert('RGB') does). Grayscale is the ITU-R BT.601 luma
 *   (299 R + 587 G + 114 B) / 1000, computed exactly, so a gray pixel v stays v.
 * - Geometry: a source box (the whole image for 'stretch'; the largest centred box with the target's
 *   aspect ratio for 'center-crop') is sampled bilinearly at pixel centres (half-pixel convention, as PIL and
 *   OpenCV). When the box already has the target size this is an exact copy.
 * - Normalisation: v / 255, then for 'mean-std' (v/255 - mean[c]) / std[c].
 */
export function rasterToSample(img: RasterRGBA, p: ImagePreprocessing, out: Float32Array, offset: number): void {
  const { width: W, height: H, data } = img;
  const { height: h, width: w, channels: C } = p;
  if (data.length < W * H * 4) throw new Error(`raster has ${data.length} bytes, expected ${W * H * 4}`);
  let bx = 0;
  let by = 0;
  let bw = W;
  let bh = H;
  if (p.resize === 'center-crop') {
    const target = w / h;
    if (W / H > target) {
      bw = H * target;
      bx = (W - bw) / 2;
    } else {
      bh = W / target;
      by = (H - bh) / 2;
    }
  }
  const sx = bw / w;
  const sy = bh / h;
  const mean = p.normalize.kind === 'mean-std' ? p.normalize.mean : null;
  const std = p.normalize.kind === 'mean-std' ? p.normalize.std : null;

  // Source value of channel k (0..2 RGB, or luma when C === 1) at integer pixel (x, y).
  const px = (x: number, y: number, k: number): number => {
    const i = (y * W + x) * 4;
    if (C === 1) return (299 * data[i]! + 587 * data[i + 1]! + 114 * data[i + 2]!) / 1000;
    return data[i + k]!;
  };

  let o = offset;
  for (let r = 0; r < h; r++) {
    let fy = by + (r + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    if (fy > H - 1) fy = H - 1;
    const y0 = Math.floor(fy);
    const y1 = Math.min(H - 1, y0 + 1);
    const ty = fy - y0;
    for (let c = 0; c < w; c++) {
      let fx = bx + (c + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      if (fx > W - 1) fx = W - 1;
      const x0 = Math.floor(fx);
      const x1 = Math.min(W - 1, x0 + 1);
      const tx = fx - x0;
      for (let k = 0; k < C; k++) {
        let v: number;
        if (tx === 0 && ty === 0) v = px(x0, y0, k);
        else {
          const top = px(x0, y0, k) * (1 - tx) + px(x1, y0, k) * tx;
          const bot = px(x0, y1, k) * (1 - tx) + px(x1, y1, k) * tx;
          v = top * (1 - ty) + bot * ty;
        }
        v /= 255;
        if (mean && std) v = (v - mean[k]!) / std[k]!;
        out[o++] = v;
      }
    }
  }
}
