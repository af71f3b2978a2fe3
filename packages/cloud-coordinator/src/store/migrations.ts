import type BetterSqlite3 from 'better-sqlite3';
import { StoreError } from './errors.js';

/**
 * Versioned schema migrations. Policy (see docs/store.md):
 *  - migrations are append-only: a released migration is never edited;
 *    a change is a new entry with the next version;
 *  - all pending migrations are applied at open inside one IMMEDIATE
 *    transaction together with the new `PRAGMA user_version`, so a file is
 *    always at exactly one schema version (a failure changes nothing);
 *  - a file whose user_version is newer than the code knows is refused.
 */
export interface Migration {
  version: number;
  name: string;
  /** SQL run with `exec` inside the migration transaction. */
  up: string;
}

const RUN_STATUS = `'created','running','paused','completed','failed','stopped'`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    up: `
CREATE TABLE schema_migrations (
  version     INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL,
  applied_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE runs (
  id              TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
  name            TEXT    NOT NULL CHECK (length(name) > 0),
  status          TEXT    NOT NULL DEFAULT 'created' CHECK (status IN (${RUN_STATUS})),
  config          TEXT    NOT NULL CHECK (json_valid(config)),
  created_at      INTEGER NOT NULL,
  started_at      INTEGER,
  ended_at        INTEGER,
  final_accuracy  REAL    CHECK (final_accuracy IS NULL OR final_accuracy BETWEEN 0 AND 1),
  final_loss      REAL,
  error           TEXT
) STRICT;
CREATE INDEX runs_by_created ON runs (created_at);

CREATE TABLE nodes (
  run_id        TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  node_id       TEXT    NOT NULL CHECK (length(node_id) > 0),
  role          TEXT    NOT NULL CHECK (role IN ('device','edge','cloud')),
  parent_id     TEXT,
  backend       TEXT,
  host          TEXT,
  status        TEXT    NOT NULL CHECK (status IN ('connected','disconnected','removed')),
  samples       INTEGER CHECK (samples IS NULL OR samples >= 0),
  joined_at     INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  PRIMARY KEY (run_id, node_id)
) STRICT;

CREATE TABLE capacity_reports (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id   TEXT    REFERENCES runs (id) ON DELETE CASCADE,
  node_id  TEXT    NOT NULL CHECK (length(node_id) > 0),
  at       INTEGER NOT NULL,
  report   TEXT    NOT NULL CHECK (json_valid(report))
) STRICT;
CREATE INDEX capacity_by_run_node ON capacity_reports (run_id, node_id, id);

CREATE TABLE plans (
  run_id            TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  version           INTEGER NOT NULL CHECK (version >= 0),
  plan              TEXT    NOT NULL CHECK (json_valid(plan)),
  prediction        TEXT    CHECK (prediction IS NULL OR json_valid(prediction)),
  reason            TEXT    NOT NULL,
  created_at        INTEGER NOT NULL,
  applied_at_round  INTEGER CHECK (applied_at_round IS NULL OR applied_at_round >= 0),
  PRIMARY KEY (run_id, version)
) STRICT;

CREATE TABLE round_metrics (
  run_id                  TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  round                   INTEGER NOT NULL CHECK (round >= 0),
  plan_version            INTEGER NOT NULL CHECK (plan_version >= 0),
  samples                 INTEGER NOT NULL CHECK (samples >= 0),
  loss                    REAL    NOT NULL,
  train_accuracy          REAL    NOT NULL CHECK (train_accuracy BETWEEN 0 AND 1),
  test_accuracy           REAL    CHECK (test_accuracy IS NULL OR test_accuracy BETWEEN 0 AND 1),
  test_loss               REAL,
  round_ms                REAL    NOT NULL CHECK (round_ms >= 0),
  device_compute_ms       REAL    NOT NULL CHECK (device_compute_ms >= 0),
  edge_compute_ms         REAL    NOT NULL CHECK (edge_compute_ms >= 0),
  cloud_compute_ms        REAL    NOT NULL CHECK (cloud_compute_ms >= 0),
  edge_wait_ms            REAL    NOT NULL CHECK (edge_wait_ms >= 0),
  cloud_wait_ms           REAL    NOT NULL CHECK (cloud_wait_ms >= 0),
  bytes_device_edge_up    INTEGER NOT NULL CHECK (bytes_device_edge_up >= 0),
  bytes_edge_device_down  INTEGER NOT NULL CHECK (bytes_edge_device_down >= 0),
  bytes_edge_cloud_up     INTEGER NOT NULL CHECK (bytes_edge_cloud_up >= 0),
  bytes_cloud_edge_down   INTEGER NOT NULL CHECK (bytes_cloud_edge_down >= 0),
  devices                 INTEGER NOT NULL CHECK (devices >= 0),
  late_devices            INTEGER NOT NULL CHECK (late_devices >= 0),
  synced_devices          INTEGER NOT NULL CHECK (synced_devices IN (0, 1)),
  synced_edges            INTEGER NOT NULL CHECK (synced_edges IN (0, 1)),
  ended_at                INTEGER NOT NULL,
  PRIMARY KEY (run_id, round)
) STRICT;

CREATE TABLE events (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id   TEXT    REFERENCES runs (id) ON DELETE CASCADE,
  at       INTEGER NOT NULL,
  level    TEXT    NOT NULL CHECK (level IN ('debug','info','warn','error')),
  kind     TEXT    NOT NULL CHECK (length(kind) > 0),
  node_id  TEXT,
  message  TEXT    NOT NULL,
  data     TEXT    CHECK (data IS NULL OR json_valid(data))
) STRICT;
CREATE INDEX events_by_run ON events (run_id, id);

CREATE TABLE checkpoints (
  run_id      TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  round       INTEGER NOT NULL CHECK (round >= 0),
  kind        TEXT    NOT NULL CHECK (kind IN ('final','periodic')),
  model_json  TEXT    NOT NULL CHECK (json_valid(model_json)),
  weights     BLOB    NOT NULL,
  accuracy    REAL    CHECK (accuracy IS NULL OR accuracy BETWEEN 0 AND 1),
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (run_id, round, kind)
) STRICT;
`,
  },
  {
    version: 2,
    name: 'sync checkpoints for crash-resume',
    // One row per sync checkpoint: everything the coordinator needs to resume a
    // run at \`round\` (the next round to run). Each tier's weights are one BLOB of
    // little-endian float32s, its tensors concatenated; \`*_lengths\` (a JSON array
    // of element counts) splits it back. The store keeps the latest two per run.
    up: `
CREATE TABLE sync_checkpoints (
  run_id          TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  round           INTEGER NOT NULL CHECK (round >= 0),
  plan_version    INTEGER NOT NULL CHECK (plan_version >= 0),
  plan            TEXT    NOT NULL CHECK (json_valid(plan)),
  state           TEXT    NOT NULL CHECK (json_valid(state)),
  device_lengths  TEXT    NOT NULL CHECK (json_valid(device_lengths)),
  device_weights  BLOB    NOT NULL CHECK (length(device_weights) % 4 = 0),
  edge_lengths    TEXT    NOT NULL CHECK (json_valid(edge_lengths)),
  edge_weights    BLOB    NOT NULL CHECK (length(edge_weights) % 4 = 0),
  top_lengths     TEXT    NOT NULL CHECK (json_valid(top_lengths)),
  top_weights     BLOB    NOT NULL CHECK (length(top_weights) % 4 = 0),
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (run_id, round)
) STRICT;
`,
  },
  {
    version: 3,
    name: 'audit trail of operator actions',
    // Who did what through the operations API, when, and how it ended. A
    // refused request that repeats (wrong tokens, rate-limited floods) is one
    // row whose \`count\` grows (the API coalesces per address and minute), so
    // an attacker cannot fill the file. Not tied to a run: it outlives runs.
    up: `
CREATE TABLE audit (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL,
  last_at    INTEGER NOT NULL CHECK (last_at >= at),
  count      INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
  principal  TEXT    NOT NULL CHECK (principal IN ('admin','viewer','anonymous')),
  via        TEXT    CHECK (via IS NULL OR via IN ('bearer','session','login')),
  address    TEXT    NOT NULL CHECK (length(address) BETWEEN 1 AND 64),
  action     TEXT    NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
  method     TEXT    NOT NULL CHECK (length(method) BETWEEN 1 AND 16),
  route      TEXT    NOT NULL CHECK (length(route) BETWEEN 1 AND 200),
  target     TEXT    CHECK (target IS NULL OR length(target) BETWEEN 1 AND 128),
  status     INTEGER NOT NULL CHECK (status BETWEEN 100 AND 599),
  detail     TEXT    CHECK (detail IS NULL OR length(detail) <= 500)
) STRICT;
`,
  },
  {
    version: 4,
    name: 'enrolled nodes and their credentials',
    // Ids are unique across roles (one table, one primary key). A node row
    // outlives its credentials: renewing revokes the old certificate and adds
    // a new one; revoking the node revokes all of them. Serials are the
    // certificates' upper-case hex serial numbers.
    up: `
CREATE TABLE enrolled_nodes (
  id              TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  role            TEXT    NOT NULL CHECK (role IN ('device','edge')),
  edge            TEXT    CHECK (edge IS NULL OR (role = 'device' AND length(edge) BETWEEN 1 AND 64)),
  enrolled_at     INTEGER NOT NULL,
  enrolled_by     TEXT    NOT NULL,
  revoked_at      INTEGER,
  revoked_reason  TEXT    CHECK (revoked_reason IS NULL OR length(revoked_reason) <= 200)
) STRICT;

CREATE TABLE node_credentials (
  serial      TEXT    PRIMARY KEY CHECK (length(serial) BETWEEN 1 AND 64),
  node_id     TEXT    NOT NULL REFERENCES enrolled_nodes (id) ON DELETE CASCADE,
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  revoked_at  INTEGER
) STRICT;
CREATE INDEX node_credentials_by_node ON node_credentials (node_id);
`,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StoreError('MIGRATION_FAILED', `migration list is malformed: entry ${i} has version ${m.version}, expected ${i + 1}`);
    }
  });
}

/**
 * Bring `db` up to the last migration in `migrations`. Returns the resulting
 * schema version. Idempotent; safe against another process migrating the same
 * file at the same moment (the version is re-read under the write lock).
 */
export function applyMigrations(db: BetterSqlite3.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  checkMigrationList(migrations);
  const latest = migrations.length;
  const readVersion = (): number => db.pragma('user_version', { simple: true }) as number;

  const tooNew = (v: number) =>
    new StoreError(
      'SCHEMA_TOO_NEW',
      `database schema version ${v} is newer than this build supports (${latest}); upgrade hsfl or use a different file`,
    );

  // Fast path without taking the write lock.
  const before = readVersion();
  if (before > latest) throw tooNew(before);
  if (before === latest) return before;

  // SQLite's procedure for schema changes: foreign keys off (this pragma is a
  // no-op inside a transaction, hence here), migrate, then foreign_key_check
  // before committing. This lets a later migration rebuild a parent table
  // without cascading deletes into its children.
  const fkWasOn = db.pragma('foreign_keys', { simple: true }) === 1;
  db.pragma('foreign_keys = OFF');
  const migrate = db.transaction(() => {
    const current = readVersion();
    if (current > latest) throw tooNew(current);
    for (const m of migrations) {
      if (m.version <= current) continue;
      try {
        db.exec(m.up);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      } catch (e) {
        throw new StoreError('MIGRATION_FAILED', `migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, { cause: e });
      }
    }
    const broken = db.pragma('foreign_key_check') as unknown[];
    if (broken.length > 0) {
      throw new StoreError('MIGRATION_FAILED', `migrations left ${broken.length} rows violating foreign keys: ${JSON.stringify(broken.slice(0, 5))}`);
    }
    // PRAGMA user_version is written in the same transaction: it commits or rolls back with the schema.
    db.pragma(`user_version = ${latest}`);
    return latest;
  });
  try {
    return migrate.immediate();
  } finally {
    if (fkWasOn) db.pragma('foreign_keys = ON');
  }
}
