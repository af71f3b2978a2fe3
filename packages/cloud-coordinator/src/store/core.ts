// What every part of the store stands on: the opened, migrated database, a
// statement cache, and reads and writes that map failures to StoreError
// (a write is its own transaction, or a savepoint inside one).
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, toStoreError } from './errors.js';
import { applyMigrations } from './migrations.js';
import type { StoreOptions } from './types.js';
import * as v from './validate.js';

/**
 * Open (creating the file and its parent directory if needed) and migrate.
 * `':memory:'` gives a private in-memory database (no WAL, nothing persisted).
 */
export function openDatabase(path: string, options: StoreOptions = {}): { db: Database.Database; path: string; schemaVersion: number } {
  v.str('path', path, { nonEmpty: true });
  const busyTimeoutMs = options.busyTimeoutMs === undefined ? 5000 : v.int('busyTimeoutMs', options.busyTimeoutMs, 0);
  const synchronous = v.oneOf('synchronous', options.synchronous ?? 'full', ['full', 'normal'] as const);
  const memory = path === ':memory:';
  const resolved = memory ? path : resolve(path);
  let db: Database.Database;
  try {
    if (!memory) mkdirSync(dirname(resolved), { recursive: true });
    db = new Database(resolved, { timeout: busyTimeoutMs });
  } catch (e) {
    throw toStoreError(e, `cannot open store at ${resolved}`);
  }
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (!memory) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new StoreError('SQLITE', `could not switch ${resolved} to WAL mode (journal_mode is ${String(mode)})`);
    }
    db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    db.pragma('foreign_keys = ON');
    if (db.pragma('foreign_keys', { simple: true }) !== 1) throw new StoreError('SQLITE', 'could not enable foreign keys');
    const version = applyMigrations(db);
    return { db, path: resolved, schemaVersion: version };
  } catch (e) {
    db.close();
    throw toStoreError(e, `cannot open store at ${resolved}`);
  }
}

export class StoreCore {
  private readonly cache = new Map<string, Database.Statement>();

  protected constructor(protected readonly db: Database.Database, readonly path: string, readonly schemaVersion: number) {}

  close(): void {
    if (!this.db.open) return;
    this.cache.clear();
    this.db.close();
  }

  /**
   * Run `fn` in one transaction (BEGIN IMMEDIATE: the write lock is taken up front, so a
   * read-then-write body cannot fail half-way with SQLITE_BUSY). Nested calls, and the
   * store's own write methods called inside, become savepoints. `fn` must be synchronous.
   */
  transaction<T>(fn: () => T): T {
    this.ensureOpen();
    return this.db.transaction(fn).immediate();
  }

  // ------------------------------------------------------------ internals

  protected ensureOpen(): void {
    if (!this.db.open) throw new StoreError('CLOSED', `the store at ${this.path} is closed`);
  }

  protected stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  protected runExists(id: string): boolean {
    return this.stmt('SELECT 1 FROM runs WHERE id = ?').get(id) !== undefined;
  }

  protected requireRun(id: string): void {
    if (!this.runExists(id)) throw new StoreError('UNKNOWN_RUN', `unknown run ${id}`);
  }

  /** Run a write in its own transaction (a savepoint if one is open); map errors to StoreError. */
  protected write<T>(what: string, fn: () => T): T {
    this.ensureOpen();
    try {
      return this.db.transaction(fn).immediate();
    } catch (e) {
      throw toStoreError(e, what);
    }
  }

  protected read<T>(what: string, fn: () => T): T {
    this.ensureOpen();
    try {
      return fn();
    } catch (e) {
      throw toStoreError(e, what);
    }
  }
}
