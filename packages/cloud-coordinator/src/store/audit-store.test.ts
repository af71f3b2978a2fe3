import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AUDIT_DETAIL_MAX, Store, type AuditInput } from './index.js';
import { applyMigrations, MIGRATIONS } from './migrations.js';
import { refusedWithoutChange, tempDir } from './test-helpers.js';

const entry = (over: Partial<AuditInput> = {}): AuditInput => ({
  principal: 'admin', via: 'bearer', address: '127.0.0.1', action: 'run_created', method: 'POST', route: '/api/runs', status: 201, ...over,
});

describe('Store: audit trail (migration 3)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let s: Store;
  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'hsfl.db');
    s = Store.open(path);
  });
  afterEach(() => {
    s.close();
    tmp.cleanup();
  });

  it('migration 3 is the audit table and a version-2 file gains it with its data kept', () => {
    assert.equal(MIGRATIONS[2]!.version, 3);
    s.close();
    const old = join(tmp.dir, 'v2.db');
    const db = new Database(old);
    applyMigrations(db, MIGRATIONS.slice(0, 2));
    db.prepare(`INSERT INTO runs (id, name, config, created_at) VALUES ('r1', 'old', '{}', 1)`).run();
    db.close();
    s = Store.open(old);
    assert.equal(s.schemaVersion >= 3, true);
    assert.equal(s.getRun('r1')!.name, 'old');
    assert.equal(s.countAudit(), 0);
  });

  it('appends rows and lists them newest first, with a limit and a cursor', () => {
    const ids = [1, 2, 3, 4, 5].map((i) => s.appendAudit(entry({ target: `run-${i}`, at: 1_700_000_000_000 + i })));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    const all = s.listAudit();
    assert.deepEqual(all.map((r) => r.target), ['run-5', 'run-4', 'run-3', 'run-2', 'run-1']);
    const first = all[0]!;
    assert.deepEqual(
      { ...first, id: 0 },
      { id: 0, at: 1_700_000_000_005, lastAt: 1_700_000_000_005, count: 1, principal: 'admin', via: 'bearer', address: '127.0.0.1', action: 'run_created', method: 'POST', route: '/api/runs', target: 'run-5', status: 201, detail: null },
    );
    assert.deepEqual(s.listAudit({ limit: 2 }).map((r) => r.target), ['run-5', 'run-4']);
    assert.deepEqual(s.listAudit({ limit: 2, beforeId: ids[3] }).map((r) => r.target), ['run-3', 'run-2']);
    assert.equal(s.countAudit(), 5);
  });

  it('grows the count of a coalesced row and keeps its latest time', () => {
    const id = s.appendAudit(entry({ principal: 'anonymous', via: null, action: 'login_failed', route: '/api/login', status: 401, at: 1000 }));
    s.setAuditCount(id, 37, 5000);
    s.setAuditCount(id, 38, 4000);
    const row = s.listAudit()[0]!;
    assert.equal(row.count, 38);
    assert.equal(row.at, 1000);
    assert.equal(row.lastAt, 5000);
  });

  it('cuts a long detail to the bound instead of losing the row', () => {
    s.appendAudit(entry({ detail: 'x'.repeat(10_000) }));
    const d = s.listAudit()[0]!.detail!;
    assert.equal(d.length, AUDIT_DETAIL_MAX);
    assert.ok(d.endsWith('…'));
  });

  it('refuses malformed entries and changes nothing', () => {
    s.appendAudit(entry());
    const bad: [Partial<AuditInput>, RegExp][] = [
      [{ principal: 'root' as never }, /principal must be one of admin, viewer, anonymous/],
      [{ via: 'cookie' as never }, /via must be one of/],
      [{ address: '' }, /address must be a non-empty string/],
      [{ address: 'a'.repeat(65) }, /address must be at most 64 characters/],
      [{ action: 'a'.repeat(65) }, /action must be at most 64/],
      [{ route: 'r'.repeat(201) }, /route must be at most 200/],
      [{ target: 't'.repeat(129) }, /target must be at most 128/],
      [{ status: 99 }, /status must be an integer >= 100/],
      [{ status: 600 }, /HTTP status in \[100, 599\]/],
      [{ status: 200.5 }, /status must be an integer/],
      [{ count: 0 }, /count must be an integer >= 1/],
      [{ at: Number.NaN }, /at must be an epoch time/],
    ];
    for (const [over, message] of bad) refusedWithoutChange(path, 'INVALID_INPUT', () => s.appendAudit(entry(over)), message);
    refusedWithoutChange(path, 'INVALID_INPUT', () => s.appendAudit(null as never), /needs an audit entry object/);
    refusedWithoutChange(path, 'INVALID_INPUT', () => s.setAuditCount(999, 2, Date.now()), /no audit row 999/);
    refusedWithoutChange(path, 'INVALID_INPUT', () => s.listAudit({ limit: 1001 }), /at most 1000/);
    refusedWithoutChange(path, 'INVALID_INPUT', () => s.listAudit({ limit: 0 }), /limit must be an integer >= 1/);
  });
});
