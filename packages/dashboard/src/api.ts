// A small fetch wrapper: same-origin, the session cookie does the auth, and
// every change (POST, DELETE) carries the session's CSRF token, which the
// coordinator hands out at login and on GET /api/session (docs/api.md).

/** The header the coordinator reads the CSRF token from. */
export const CSRF_HEADER = 'X-CSRF-Token';
let csrfToken: string | null = null;

/** Remembers (or forgets, with null) the session's CSRF token; kept in memory only, like the session itself. */
export function setCsrfToken(token: string | null | undefined): void {
  csrfToken = token ?? null;
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET' && csrfToken) headers[CSRF_HEADER] = csrfToken;
  const init: RequestInit = { method, credentials: 'same-origin', headers };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = text;
  }
  if (res.status === 403 && method !== 'GET' && !retried && /CSRF token/.test(messageOf(data))) {
    // Another tab logged in meanwhile (a new session, a new token): take the current session's token and try once more.
    const s = await call<{ csrfToken?: string }>('GET', '/api/session');
    setCsrfToken(s.csrfToken);
    return call<T>(method, path, body, true);
  }
  if (!res.ok) {
    const msg = typeof data === 'object' && data && 'message' in data ? String((data as { message: unknown }).message) : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, msg);
  }
  return data as T;
}

function messageOf(data: unknown): string {
  return typeof data === 'object' && data && 'message' in data ? String((data as { message: unknown }).message) : '';
}

export const api = {
  get: <T>(path: string) => call<T>('GET', path),
  post: <T>(path: string, body?: unknown) => call<T>('POST', path, body),
  del: <T>(path: string) => call<T>('DELETE', path),
};
