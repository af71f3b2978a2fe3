/**
 * Errors raised by the store. Every failed write throws a StoreError and
 * leaves the database exactly as it was before the call.
 */
export type StoreErrorCode =
  | 'INVALID_INPUT' // an argument has the wrong type, is not finite, out of range, not JSON-serialisable...
  | 'UNKNOWN_RUN'
  | 'UNKNOWN_NODE'
  | 'DUPLICATE_NODE' // an id already enrolled (ids are unique across roles)
  | 'REVOKED' // the node was revoked: enrolling it again needs an explicit renewal
  | 'UNKNOWN_PLAN'
  | 'DUPLICATE_RUN'
  | 'DUPLICATE_PLAN'
  | 'DUPLICATE_ROUND'
  | 'INVALID_TRANSITION' // run status change not allowed (e.g. out of a terminal state)
  | 'PLAN_ALREADY_APPLIED' // plan already marked applied at a different round
  | 'CONSTRAINT' // any other SQLite constraint violation
  | 'BUSY' // the database stayed locked by another connection beyond the busy timeout
  | 'SCHEMA_TOO_NEW' // the file was written by a newer version of the store
  | 'MIGRATION_FAILED'
  | 'CORRUPT' // a stored value could not be decoded
  | 'CLOSED' // the store has been closed
  | 'SQLITE'; // any other SQLite error

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Map an error thrown by better-sqlite3 (SqliteError has a string `code`) to a StoreError. */
export function toStoreError(e: unknown, context: string): StoreError {
  if (e instanceof StoreError) return e;
  const sqliteCode = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : '';
  const msg = e instanceof Error ? e.message : String(e);
  if (sqliteCode.startsWith('SQLITE_CONSTRAINT')) {
    return new StoreError('CONSTRAINT', `${context}: constraint violated (${sqliteCode}: ${msg})`, { cause: e });
  }
  if (sqliteCode === 'SQLITE_BUSY' || sqliteCode.startsWith('SQLITE_BUSY_') || sqliteCode === 'SQLITE_LOCKED') {
    return new StoreError('BUSY', `${context}: database is locked by another connection (${msg})`, { cause: e });
  }
  if (sqliteCode.startsWith('SQLITE_')) {
    return new StoreError('SQLITE', `${context}: ${sqliteCode}: ${msg}`, { cause: e });
  }
  if (e instanceof TypeError && /database connection is not open/i.test(msg)) {
    return new StoreError('CLOSED', `${context}: the store is closed`, { cause: e });
  }
  return new StoreError('SQLITE', `${context}: ${msg}`, { cause: e });
}
