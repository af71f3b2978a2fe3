import type { FastifyRequest } from 'fastify';
import type { AuditRow } from '../store/index.js';
import type { Identified } from './auth.js';

/** What a route handler adds to the request's audit row. */
export interface AuditNote {
  principal?: AuditRow['principal'];
  via?: AuditRow['via'];
  target?: string;
  detail?: string;
  /** Nothing happened (e.g. a logout without a session): count it with its like instead of giving it a row. */
  noop?: boolean;
}

/** What the API learns about one request as it passes the hooks, kept for the handlers and the audit trail. */
export interface Facts {
  /** The client's address (the socket's, or what a trusted proxy forwarded). */
  address: string;
  identity?: Identified;
  /** The message of the error the request was answered with. */
  error?: string;
  note?: AuditNote;
}

/** Per-request facts, held weakly: they go with the request. */
export class RequestFacts {
  private readonly map = new WeakMap<FastifyRequest, Facts>();

  set(req: FastifyRequest, f: Facts): Facts {
    this.map.set(req, f);
    return f;
  }

  get(req: FastifyRequest): Facts | undefined {
    return this.map.get(req);
  }

  identity(req: FastifyRequest): Identified | undefined {
    return this.map.get(req)?.identity;
  }

  /** Adds to the audit row of this request (e.g. the run a creation made, the role a login gave). */
  note(req: FastifyRequest, n: AuditNote): void {
    const f = this.map.get(req);
    if (f) f.note = { ...f.note, ...n };
  }
}
