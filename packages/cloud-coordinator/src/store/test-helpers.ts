// Helpers shared by the store tests (not part of the store's API).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { StoreError, type StoreErrorCode } from './errors.js';
import type { RoundMetrics } from './types.js';

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'hsfl-store-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every row of every table (and the AUTOINCREMENT counters), read through a separate read-only connection. */
export function snapshot(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
      .pluck()
      .all() as string[];
    const out: Record<string, unknown[]> = {};
    for (const t of tables) out[t] = db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all();
    out['#user_version'] = [db.pragma('user_version', { simple: true })];
    return out;
  } finally {
    db.close();
  }
}

export function metrics(round: number, over: Partial<RoundMetrics> = {}): RoundMetrics {
  return {
    round,
    planVersion: 1,
    samples: 128,
    loss: 2.3 - round * 0.01,
    trainAccuracy: Math.min(1, 0.1 + round * 0.001),
    testAccuracy: round % 5 === 0 ? 0.5 : null,
    testLoss: round % 5 === 0 ? 1.25 : null,
    roundMs: 123.5,
    deviceComputeMs: 40.25,
    edgeComputeMs: 20.5,
    cloudComputeMs: 10.125,
    edgeWaitMs: 3,
    cloudWaitMs: 4,
    bytesDeviceEdgeUp: 1_000_000 + round,
    bytesEdgeDeviceDown: 900_000,
    bytesEdgeCloudUp: 500_000,
    bytesCloudEdgeDown: 450_000,
    devices: 4,
    lateDevices: 0,
    syncedDevices: round % 2 === 0,
    syncedEdges: round % 4 === 0,
    endedAt: 1_700_000_000_000 + round * 1000,
    ...over,
  };
}

/** An assert.throws predicate: a StoreError with `code` (and a message matching `message`). */
export function isStoreError(code: StoreErrorCode, message?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof StoreError, `expected StoreError, got ${String(e)}`);
    assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  };
}

/** Asserts that `fn` throws StoreError(code) and leaves the store file logically the same. */
export function refusedWithoutChange(path: string, code: StoreErrorCode, fn: () => unknown, message?: RegExp): void {
  const before = snapshot(path);
  assert.throws(fn, isStoreError(code, message));
  assert.deepEqual(snapshot(path), before);
}
