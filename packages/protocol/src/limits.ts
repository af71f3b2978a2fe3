// Message size limits. See docs/protocol.md, "Limits".

const MiB = 1024 * 1024;

/**
 * Default largest message, in bytes: what roles give socket.io's
 * `maxHttpBufferSize` (and socket.io-client's `maxPayload`) and what
 * decodeMessage accepts unless told otherwise.
 *
 * 64 MiB: socket.io's own default (1 MB) is smaller than one batch of
 * activations of a modest plan (an edge with 4 devices x batch 64 x a
 * 32x14x14 feature map is 6.4 MB) or the weights of a mid-sized model, and
 * it fails by dropping the connection. Unbounded is worse: a peer could make
 * a Raspberry Pi buffer gigabytes before any check runs. 64 MiB holds the
 * biggest message of the plans this project trains (MNIST/CIFAR CNNs, tens of
 * devices per edge) with room to spare, and is small enough for a 1 GB board.
 */
export const MAX_MESSAGE_BYTES = 64 * MiB;

/** No limit computed by messageLimitFor exceeds this (256 MiB). */
export const HARD_MAX_MESSAGE_BYTES = 256 * MiB;

/** messageLimitFor never returns less than this: control messages, small plans (1 MiB). */
export const MIN_MESSAGE_BYTES = 1 * MiB;

export interface MessageLimitParams {
  /** Samples per device per round (plan.batchSize). */
  batchSize: number;
  /**
   * Largest activation tensor per sample, in elements, that crosses a link
   * under this plan (at cut c1 and cut c2; for a limit that holds for any
   * plan of the model, the largest over all layer boundaries).
   */
  maxActivationElementsPerSample: number;
  /** Most devices under one edge (their activations travel up in one message). */
  devices: number;
  /** Most weight elements one message carries (Welcome to an edge: device + edge tiers; simplest: the whole model). */
  weightElements: number;
}

/**
 * Bytes the biggest message of a plan needs, uncapped: the larger of an
 * edge's Activations (devices x batch x elements, float32, plus int32
 * labels; Gradients are the same size) and the largest weights message,
 * assuming the raw codec (fp16/int8 only make messages smaller), plus
 * 25% and 64 KiB for headers, shapes, slices and padding.
 */
export function requiredMessageBytes(p: MessageLimitParams): number {
  for (const [k, v] of Object.entries(p)) {
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`messageLimitFor: ${k} must be a finite number >= 0, got ${v}`);
  }
  const samples = p.batchSize * Math.max(1, p.devices);
  const activations = samples * p.maxActivationElementsPerSample * 4 + samples * 4;
  const weights = p.weightElements * 4;
  return Math.ceil(Math.max(activations, weights) * 1.25) + 64 * 1024;
}

/**
 * A safe message limit for a plan: requiredMessageBytes rounded up to a
 * whole MiB, at least MIN_MESSAGE_BYTES and never above
 * HARD_MAX_MESSAGE_BYTES. When requiredMessageBytes exceeds the hard cap the
 * plan cannot run (its messages would be refused): callers that plan should
 * compare the two and reject such plans (smaller batch, other cuts, a codec).
 */
export function messageLimitFor(p: MessageLimitParams): number {
  const need = Math.ceil(requiredMessageBytes(p) / MiB) * MiB;
  return Math.min(HARD_MAX_MESSAGE_BYTES, Math.max(MIN_MESSAGE_BYTES, need));
}

/**
 * Most devices one edge serves. It bounds the edge's upward Activations
 * (devices x batch) and so every plan's message limit; an edge refuses
 * further devices with the 'limit' error.
 */
export const MAX_DEVICES_PER_EDGE = 64;
