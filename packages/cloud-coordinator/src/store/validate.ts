import { StoreError } from './errors.js';

function bad(what: string, expected: string, v: unknown): never {
  let shown: string;
  try {
    shown = typeof v === 'string' ? JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v) : typeof v === 'bigint' ? `${v}n` : String(v);
  } catch {
    shown = typeof v;
  }
  throw new StoreError('INVALID_INPUT', `${what} must be ${expected}, got ${shown}`);
}

export function str(what: string, v: unknown, opts: { nonEmpty?: boolean; max?: number } = {}): string {
  if (typeof v !== 'string') bad(what, 'a string', v);
  if (opts.nonEmpty && v.length === 0) bad(what, 'a non-empty string', v);
  if (opts.max !== undefined && v.length > opts.max) bad(what, `at most ${opts.max} characters`, v);
  return v;
}

export function optStr(what: string, v: unknown, opts: { nonEmpty?: boolean; max?: number } = {}): string | null {
  return v === null || v === undefined ? null : str(what, v, opts);
}

export function int(what: string, v: unknown, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(what, 'an integer', v);
  if (v < min) bad(what, `an integer >= ${min}`, v);
  return v;
}

export function optInt(what: string, v: unknown, min = 0): number | null {
  return v === null || v === undefined ? null : int(what, v, min);
}

export function num(what: string, v: unknown, range: { min?: number; max?: number } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(what, 'a finite number', v);
  if (range.min !== undefined && v < range.min) bad(what, `>= ${range.min}`, v);
  if (range.max !== undefined && v > range.max) bad(what, `<= ${range.max}`, v);
  return v;
}

export function optNum(what: string, v: unknown, range: { min?: number; max?: number } = {}): number | null {
  return v === null || v === undefined ? null : num(what, v, range);
}

export function bool(what: string, v: unknown): 0 | 1 {
  if (typeof v !== 'boolean') bad(what, 'a boolean', v);
  return v ? 1 : 0;
}

/** Epoch milliseconds; fractional values (performance.timeOrigin + now()) are rounded. */
export function time(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 8.64e15) bad(what, 'an epoch time in milliseconds', v);
  return Math.round(v);
}

export function oneOf<T extends string>(what: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) bad(what, `one of ${allowed.join(', ')}`, v);
  return v as T;
}

/**
 * Serialise to JSON, refusing what JSON would silently corrupt: non-finite
 * numbers (which JSON.stringify turns into null), functions, symbols, bigints,
 * cycles, and a top-level undefined.
 */
export function json(what: string, v: unknown): string {
  if (v === undefined) bad(what, 'a JSON-serialisable value', v);
  let out: string | undefined;
  try {
    out = JSON.stringify(v, (key, x: unknown) => {
      if (typeof x === 'number' && !Number.isFinite(x)) {
        throw new StoreError('INVALID_INPUT', `${what}${key ? `.${key}` : ''} must be a finite number, got ${x}`);
      }
      if (typeof x === 'function' || typeof x === 'symbol') {
        throw new StoreError('INVALID_INPUT', `${what}${key ? `.${key}` : ''} is a ${typeof x}, which JSON cannot hold`);
      }
      return x;
    });
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError('INVALID_INPUT', `${what} is not JSON-serialisable: ${(e as Error).message}`, { cause: e });
  }
  if (out === undefined) bad(what, 'a JSON-serialisable value', v);
  return out;
}

export function optJson(what: string, v: unknown): string | null {
  return v === null || v === undefined ? null : json(what, v);
}

export function parseJson(what: string, text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new StoreError('CORRUPT', `stored ${what} is not valid JSON`, { cause: e });
  }
}

export function positiveLimit(what: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  return int(what, v, 1);
}
