import { NODE_ID_PATTERN } from '@hsfl/protocol';
import { listModels } from '@hsfl/runtime';
import { DEFAULT_TRIAL, TRIAL_LIMITS, type TrialNumberField } from '../config.js';
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

/** The JSON schema of one numeric trial field, from the shared TRIAL_LIMITS table. */
function limitSchema(k: TrialNumberField): object {
  const l: { integer: boolean; min: number; max: number; exclusiveMin?: boolean; exclusiveMax?: boolean } = TRIAL_LIMITS[k];
  return {
    type: l.integer ? 'integer' : 'number',
    ...(l.exclusiveMin ? { exclusiveMinimum: l.min } : { minimum: l.min }),
    ...(l.exclusiveMax ? { exclusiveMaximum: l.max } : { maximum: l.max }),
  };
}

/**
 * A trial description (TrialConfig); omitted fields take the coordinator's
 * defaults. Every field has an exact type and, for numbers, a bounded range
 * (TRIAL_LIMITS); the coordinator's own trial check has the last word (cuts
 * against the model's size). A field of DEFAULT_TRIAL without a schema here
 * is a programming error and fails at once rather than being accepted unchecked.
 */
export function trialBody() {
  const properties: Record<string, object> = {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    model: { type: 'string', enum: listModels() },
    codec: { type: 'string', enum: ['raw', 'fp16', 'int8'] },
    planner: { type: 'string', enum: ['off', 'auto'] },
  };
  for (const k of Object.keys(TRIAL_LIMITS) as TrialNumberField[]) properties[k] = limitSchema(k);
  const missing = Object.keys(DEFAULT_TRIAL).filter((k) => !(k in properties));
  if (missing.length) throw new Error(`trialBody has no schema for ${missing.join(', ')}`);
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

export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', pattern: '^([1-9][0-9]{0,2}|1000)$' },
    beforeId: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' },
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
