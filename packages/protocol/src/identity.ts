// The rules every role applies to the ids and sizes a peer names. One
// definition each, so the CLIs, the servers and the API agree.
import { ProtocolError } from './errors.js';

/** A node id: 1-64 characters of [A-Za-z0-9._:-]. */
export const NODE_ID_PATTERN = '^[A-Za-z0-9._:-]{1,64}$';
const NODE_ID_RE = new RegExp(NODE_ID_PATTERN);

/** The id the cloud coordinator goes by; no edge or device may take it. */
export const CLOUD_ID = 'cloud';

/** Largest mini-batch a plan may ask of one device. */
export const MAX_BATCH_SIZE = 4096;

export function isNodeId(id: unknown): id is string {
  return typeof id === 'string' && NODE_ID_RE.test(id);
}

/** Throws 'malformed' unless `id` is a valid node id other than the cloud's. */
export function checkNodeId(id: unknown, what = 'node id'): string {
  if (!isNodeId(id)) throw new ProtocolError('malformed', `${what} must be 1-64 characters of [A-Za-z0-9._:-]`);
  if (id === CLOUD_ID) throw new ProtocolError('malformed', `${what} "${CLOUD_ID}" is reserved for the coordinator`);
  return id;
}

export function isBatchSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_BATCH_SIZE;
}

/** Throws 'malformed' unless `n` is a whole batch size in [1, MAX_BATCH_SIZE]. */
export function checkBatchSize(n: unknown): number {
  if (!isBatchSize(n)) throw new ProtocolError('malformed', `batch size must be a whole number in [1, ${MAX_BATCH_SIZE}], got ${String(n)}`);
  return n;
}
