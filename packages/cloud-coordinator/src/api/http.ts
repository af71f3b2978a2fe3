import type { IncomingHttpHeaders } from 'node:http';
import { CoordinatorError, type CoordinatorErrorCode } from '../errors.js';
import { StoreError, type StoreErrorCode } from '../store/index.js';
import type { Role } from './auth.js';

/** A JSON error with an HTTP status, answered as { statusCode, error, message }. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large',
  415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
};

/** The one table from the coordinator's and the store's error codes to HTTP statuses. */
const COORDINATOR_STATUS: Record<CoordinatorErrorCode, number> = { invalid: 400, not_found: 404, conflict: 409, unprocessable: 422 };
const STORE_STATUS: Partial<Record<StoreErrorCode, number>> = { INVALID_INPUT: 400, UNKNOWN_RUN: 404, UNKNOWN_NODE: 404, INVALID_TRANSITION: 409 };

/** The HTTP status of an error thrown while answering a request (500 when it is nobody's fault but ours). */
export function httpStatusOf(err: Error & { statusCode?: number; validation?: unknown }): number {
  if (err instanceof HttpError) return err.statusCode;
  if (err instanceof CoordinatorError) return COORDINATOR_STATUS[err.code];
  if (err instanceof StoreError) return STORE_STATUS[err.code] ?? 500;
  if (err.validation) return 400;
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600) return err.statusCode;
  return 500;
}

export interface Identity {
  role: Role;
  via: 'bearer' | 'session';
}

/** Whether a request comes from our own origin (no Origin header: not a browser's cross-site request). */
export function sameOrigin(headers: IncomingHttpHeaders): boolean {
  if (headers['sec-fetch-site'] === 'cross-site') return false;
  const origin = headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === headers.host;
  } catch {
    return false;
  }
}
