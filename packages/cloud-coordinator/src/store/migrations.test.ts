import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, applyMigrations, type Migration } from './migrations.js';
import { Store, StoreError } from './index.js';
import { snapshot, tempDir } from './test-helpers.js';

describe('store migrations', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it('migrates an empty file to the latest version, creating parent directories', () => {
    const path = join(tmp.dir, 'nested', 'deeper', 'hsfl.db');
    const s = Store.open(path);
    try {
      assert.equal(s.schemaVersion, LATEST_SCHEMA_VERSION);
      assert.equal(s.path, path);
    } finally {
      s.close();
    }
    const snap = snapshot(path);
    assert.deepEqual(snap['#user_version'], [LATEST_SCHEMA_VERSION]);
    assert.deepEqual(
      (snap['schema_migrations'] as { version: number }[]).map((r) => r.version),
      MIGRATIONS.map((m) => m.version),
    );
    for (const t of ['runs', 'nodes', 'capacity_reports', 'plans', 'round_metrics', 'events', 'checkpoints', 'sync_checkpoints']) {
      assert.ok(t in snap, `table ${t} exists`);
    }
  });

  it('re-opening is idempotent: same schema version, no migration re-applied, data kept', () => {
    const path = join(tmp.dir, 'hsfl.db');
    const a = Store.open(path);
    a.createRun({ id: 'r1', name: 'first', config: { a: 1 } });
    a.close();
    const before = snapshot(path);
    for (let i = 0; i < 3; i++) {
      const b = Store.open(path);
      assert.equal(b.schemaVersion, LATEST_SCHEMA_VERSION);
      assert.equal(b.getRun('r1')?.name, 'first');
      b.close();
    }
    assert.deepEqual(snapshot(path), before);
  });

  it('two stores can open the same file at once', () => {
    const path = join(tmp.dir, 'hsfl.db');
    const a = Store.open(path);
    const b = Store.open(path);
    try {
      a.createRun({ id: 'shared', name: 'x', config: {} });
      assert.equal(b.getRun('shared')?.name, 'x');
      b.addEvent({ runId: 'shared', level: 'info', kind: 'k', nodeId: null, message: 'from b', data: null });
      assert.equal(a.listEvents({ runId: 'shared' }).length, 1);
    } finally {
      a.close();
      b.close();
    }
  });

  it('refuses a file written by a newer schema', () => {
    const path = join(tmp.dir, 'hsfl.db');
    Store.open(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => Store.open(path), (e: unknown) => e instanceof StoreError && e.code === 'SCHEMA_TOO_NEW');
  });

  it('a failing migration rolls back entirely (schema and version unchanged)', () => {
    const path = join(tmp.dir, 'hsfl.db');
    const s = Store.open(path);
    s.createRun({ id: 'keep', name: 'kept', config: {} });
    s.close();
    const before = snapshot(path);
    const broken: Migration[] = [
      ...MIGRATIONS,
      { version: LATEST_SCHEMA_VERSION + 1, name: 'ok part', up: 'CREATE TABLE extra (x INTEGER) STRICT; ALTER TABLE runs ADD COLUMN note TEXT;' },
      { version: LATEST_SCHEMA_VERSION + 2, name: 'broken', up: 'CREATE TABLE extra2 (x INTEGER); THIS IS NOT SQL;' },
    ];
    const db = new Database(path);
    try {
      assert.throws(() => applyMigrations(db, broken), (e: unknown) => e instanceof StoreError && e.code === 'MIGRATION_FAILED');
    } finally {
      db.close();
    }
    assert.deepEqual(snapshot(path), before);
    const again = Store.open(path);
    assert.equal(again.schemaVersion, LATEST_SCHEMA_VERSION);
    again.close();
  });

  it('applies later migrations on top of an existing file', () => {
    const path = join(tmp.dir, 'hsfl.db');
    const s = Store.open(path);
    s.createRun({ id: 'old', name: 'old', config: {} });
    s.close();
    const next: Migration[] = [...MIGRATIONS, { version: LATEST_SCHEMA_VERSION + 1, name: 'add note', up: 'ALTER TABLE runs ADD COLUMN note TEXT;' }];
    const db = new Database(path);
    try {
      assert.equal(applyMigrations(db, next), LATEST_SCHEMA_VERSION + 1);
      assert.equal(applyMigrations(db, next), LATEST_SCHEMA_VERSION + 1);
      assert.deepEqual(db.prepare('SELECT id, note FROM runs').all(), [{ id: 'old', note: null }]);
      assert.equal(db.prepare('SELECT count(*) FROM schema_migrations').pluck().get(), LATEST_SCHEMA_VERSION + 1);
    } finally {
      db.close();
    }
  });

  it('migrations run with foreign keys off (a parent table can be rebuilt) and must leave no FK violations', () => {
    const path = join(tmp.dir, 'hsfl.db');
    const s = Store.open(path);
    s.createRun({ id: 'r', name: 'r', config: {} });
    s.addEvent({ runId: 'r', level: 'info', kind: 'k', nodeId: null, message: 'kept', data: null });
    s.close();
    const rebuild: Migration[] = [
      ...MIGRATIONS,
      {
        version: LATEST_SCHEMA_VERSION + 1,
        name: 'rebuild runs',
        up: `CREATE TABLE runs_new (id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, config TEXT NOT NULL,
               created_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER, final_accuracy REAL, final_loss REAL,
               error TEXT, note TEXT) STRICT;
             INSERT INTO runs_new SELECT *, NULL FROM runs; DROP TABLE runs; ALTER TABLE runs_new RENAME TO runs;`,
      },
    ];
    const db = new Database(path);
    try {
      db.pragma('foreign_keys = ON');
      assert.equal(applyMigrations(db, rebuild), LATEST_SCHEMA_VERSION + 1);
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys restored');
      assert.equal(db.prepare('SELECT count(*) FROM events').pluck().get(), 1, 'no cascade while rebuilding the parent');
    } finally {
      db.close();
    }

    const orphaning: Migration[] = [
      ...MIGRATIONS,
      { version: LATEST_SCHEMA_VERSION + 1, name: 'orphans', up: `DELETE FROM runs;` },
    ];
    const path2 = join(tmp.dir, 'two.db');
    const s2 = Store.open(path2);
    s2.createRun({ id: 'r', name: 'r', config: {} });
    s2.addEvent({ runId: 'r', level: 'info', kind: 'k', nodeId: null, message: '', data: null });
    s2.close();
    const before = snapshot(path2);
    const db2 = new Database(path2);
    try {
      assert.throws(() => applyMigrations(db2, orphaning), /violating foreign keys/);
    } finally {
      db2.close();
    }
    assert.deepEqual(snapshot(path2), before);
  });

  it('rejects a malformed migration list', () => {
    const db = new Database(':memory:');
    try {
      assert.throws(() => applyMigrations(db, [{ version: 2, name: 'x', up: '' }]), /malformed/);
    } finally {
      db.close();
    }
  });
});
