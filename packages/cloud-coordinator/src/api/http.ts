import type { IncomingHttpHeaders } from 'node:http';
import type { Role } from './auth.js';

/** A JSON error with an HTTP status, answered as { statusCode, error, message }. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large',
  415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
};

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
