import { MAX_BATCH_SIZE, NODE_ID_PATTERN } from '@hsfl/protocol';
import { listModels } from '@hsfl/runtime';
import { DEFAULT_TRIAL } from '../config.js';
import { HttpError } from './http.js';

/**
 * JSON schemas of the request parts. Bodies are validated strictly: no type
 * coercion, unknown fields refused (see createHttpApp's ajv options).
 */

const int = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum }) as const;

export const RUN_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';

export const runParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: RUN_ID_PATTERN } },
} as const;

export const nodeParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: NODE_ID_PATTERN } },
} as const;

/**
 * A trial description (TrialConfig); omitted fields take the coordinator's
 * defaults. Fields listed here get exact types and ranges; any other field of
 * DEFAULT_TRIAL is accepted with the type of its default, and the
 * coordinator's own trial check has the last word.
 */
export function trialBody() {
  const known: Record<string, object> = {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    model: { type: 'string', enum: listModels() },
    c1: int(0, 1000),
    c2: int(0, 1000),
    i1: int(1, 1000),
    i2: int(1, 1000),
    batchSize: int(1, MAX_BATCH_SIZE),
    lr: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
    rounds: int(1, 10_000_000),
    evalEvery: int(0, 10_000_000),
    seed: int(0, 0xffffffff),
    deadlineMs: int(100, 3_600_000),
    codec: { type: 'string', enum: ['raw', 'fp16', 'int8'] },
    minEdges: int(1, 10_000),
    minDevices: int(0, 1_000_000),
    joinTimeoutMs: int(1, 7 * 24 * 3600 * 1000),
    targetAccuracy: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  };
  const properties: Record<string, object> = { ...known };
  for (const [k, v] of Object.entries(DEFAULT_TRIAL)) {
    if (k in properties) continue;
    if (typeof v === 'string') properties[k] = { type: 'string', maxLength: 200 };
    else if (typeof v === 'number') properties[k] = { type: 'number' };
    else if (typeof v === 'boolean') properties[k] = { type: 'boolean' };
  }
  return { type: 'object', additionalProperties: false, properties };
}

export const planBody = {
  type: 'object',
  additionalProperties: false,
  required: ['c1', 'c2', 'i1', 'i2'],
  properties: {
    c1: int(0, 1000),
    c2: int(0, 1000),
    i1: int(1, 1000),
    i2: int(1, 1000),
    reason: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;

export const loginBody = {
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: { token: { type: 'string', minLength: 1, maxLength: 512 } },
} as const;

export const metricsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sinceRound: { type: 'string', pattern: '^-?[0-9]{1,9}$' },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,6}$' },
  },
} as const;

export const eventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sinceId: { type: 'string', pattern: '^[0-9]{1,15}$' },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,4}$' },
    level: { type: 'string', enum: ['debug', 'info', 'warn', 'error'] },
    runId: { type: 'string', pattern: RUN_ID_PATTERN },
  },
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,4}$' } },
} as const;

/**
 * A body that may be absent or { "reason": "<1-200 characters>" } (POST
 * /api/runs/:id/fail). Checked by hand rather than by a body schema because
 * an absent body must be accepted, which a `type: object` schema refuses.
 */
export function optionalReason(body: unknown, fallback: string): string {
  if (body === undefined || body === null) return fallback;
  const keys = typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : null;
  const r = keys ? (body as { reason?: unknown }).reason : undefined;
  if (!keys || keys.some((k) => k !== 'reason') || (r !== undefined && (typeof r !== 'string' || r.length === 0 || r.length > 200))) {
    throw new HttpError(400, 'body must be empty or { "reason": "<1-200 characters>" }');
  }
  return typeof r === 'string' ? r : fallback;
}
