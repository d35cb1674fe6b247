//! Versioned migrations. Append new ones; never edit a released one.
//! docs/schema.md explains every table for someone holding only `sqlite3`.

use rusqlite_migration::{M, Migrations};

const V1: &str = r#"
CREATE TABLE environments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE deployments (
    id              INTEGER PRIMARY KEY,
    environment_id  INTEGER NOT NULL REFERENCES environments(id),
    external_id     TEXT NOT NULL,
    version         TEXT NOT NULL,
    colour          TEXT,
    deployed_at     TEXT NOT NULL,
    status          TEXT NOT NULL
                    CHECK (status IN ('in_progress', 'succeeded', 'failed', 'rolled_back')),
    first_seen_at   TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (environment_id, external_id)
);
CREATE INDEX deployments_by_env ON deployments(environment_id, deployed_at);

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    environment_id  INTEGER REFERENCES environments(id),
    title           TEXT NOT NULL,
    severity        TEXT NOT NULL DEFAULT 'unknown',
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    drill           INTEGER NOT NULL DEFAULT 0,
    opened_by       TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    closed_at       TEXT
);

CREATE TABLE rollbacks (
    id                 INTEGER PRIMARY KEY,
    environment_id     INTEGER NOT NULL REFERENCES environments(id),
    incident_id        INTEGER REFERENCES incidents(id),
    deployment_id      INTEGER REFERENCES deployments(id),
    from_version       TEXT,
    target_version     TEXT,
    rollback_type      TEXT NOT NULL CHECK (rollback_type IN
                       ('previous', 'specific', 'blue_green_switch', 'flag_toggle', 'automatic')),
    trigger            TEXT NOT NULL CHECK (trigger IN
                       ('manual', 'health_check_failed', 'error_rate', 'latency', 'quality',
                        'resource', 'timeout')),
    status             TEXT NOT NULL CHECK (status IN
                       ('pending', 'in_progress', 'completed', 'failed')),
    operator           TEXT NOT NULL,
    reason             TEXT NOT NULL,
    driver             TEXT NOT NULL,
    error              TEXT,
    started_at         TEXT NOT NULL,
    completed_at       TEXT,
    notification_sent  INTEGER NOT NULL DEFAULT 0,
    holder_host        TEXT NOT NULL,
    holder_pid         INTEGER NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX rollbacks_by_env ON rollbacks(environment_id, started_at);
CREATE INDEX rollbacks_by_status ON rollbacks(status);

CREATE TABLE rollback_locks (
    environment_id  INTEGER PRIMARY KEY REFERENCES environments(id),
    rollback_id     INTEGER NOT NULL REFERENCES rollbacks(id),
    holder          TEXT NOT NULL,
    host            TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    acquired_at     TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);

CREATE TABLE timeline_events (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    incident_id     INTEGER REFERENCES incidents(id),
    environment_id  INTEGER REFERENCES environments(id),
    rollback_id     INTEGER REFERENCES rollbacks(id),
    actor           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    message         TEXT NOT NULL,
    data            TEXT
);
CREATE INDEX timeline_by_incident ON timeline_events(incident_id, at, id);
CREATE INDEX timeline_by_env ON timeline_events(environment_id, at);
CREATE INDEX timeline_by_at ON timeline_events(at);

CREATE TABLE notes (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER REFERENCES incidents(id),
    environment_id  INTEGER REFERENCES environments(id),
    author          TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX notes_by_incident ON notes(incident_id, created_at);

CREATE TABLE checklist_results (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER REFERENCES incidents(id),
    environment_id  INTEGER NOT NULL REFERENCES environments(id),
    rollback_id     INTEGER REFERENCES rollbacks(id),
    item            TEXT NOT NULL,
    passed          INTEGER NOT NULL,
    waived          INTEGER NOT NULL DEFAULT 0,
    actor           TEXT NOT NULL,
    note            TEXT,
    at              TEXT NOT NULL
);
CREATE INDEX checklist_by_incident ON checklist_results(incident_id, at);

CREATE TABLE runbook_progress (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES incidents(id),
    runbook         TEXT NOT NULL,
    step_index      INTEGER NOT NULL,
    step_title      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('done', 'skipped', 'failed')),
    reason          TEXT,
    output          TEXT,
    actor           TEXT NOT NULL,
    at              TEXT NOT NULL
);
CREATE INDEX runbook_by_incident ON runbook_progress(incident_id, at);

CREATE TABLE samples (
    id              INTEGER PRIMARY KEY,
    environment_id  INTEGER NOT NULL REFERENCES environments(id),
    signal          TEXT NOT NULL,
    at              TEXT NOT NULL,
    value           REAL,
    text            TEXT,
    ok              INTEGER NOT NULL,
    error           TEXT
);
CREATE INDEX samples_by_signal ON samples(environment_id, signal, at);
"#;

/// Incidents end to end: objective and post-incident fields on incidents, the
/// milestones of each incident, and how long each automatic checklist item has
/// been passing.
const V2: &str = r#"
ALTER TABLE incidents ADD COLUMN objective_ms INTEGER;
ALTER TABLE incidents ADD COLUMN runbook TEXT;
ALTER TABLE incidents ADD COLUMN impact TEXT;
ALTER TABLE incidents ADD COLUMN root_cause TEXT;
ALTER TABLE incidents ADD COLUMN prevention TEXT;

CREATE TABLE incident_milestones (
    incident_id  INTEGER NOT NULL REFERENCES incidents(id),
    milestone    TEXT NOT NULL CHECK (milestone IN
                 ('impact_started', 'detected', 'rollback_started', 'rollback_completed', 'validated', 'resolved')),
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    PRIMARY KEY (incident_id, milestone)
);

CREATE TABLE checklist_streaks (
    incident_id    INTEGER NOT NULL REFERENCES incidents(id),
    item           TEXT NOT NULL,
    passing_since  TEXT,
    checked_at     TEXT NOT NULL,
    detail         TEXT,
    PRIMARY KEY (incident_id, item)
);
"#;

/// Flag rollbacks: which flag a rollback changed, its value before and after,
/// and where (the serving version is unchanged by them).
const V3: &str = r#"
ALTER TABLE rollbacks ADD COLUMN flag_key TEXT;
ALTER TABLE rollbacks ADD COLUMN flag_before TEXT;
ALTER TABLE rollbacks ADD COLUMN flag_after TEXT;
ALTER TABLE rollbacks ADD COLUMN flag_location TEXT;
"#;

/// Automatic rollbacks that failed, kept so that no engine (and no restart of
/// one) tries the same `from → to` on its own again: one row per environment,
/// deleted by an operator (`backout unblock`, the console's `u`) or when a new
/// version serves.
const V4: &str = r#"
CREATE TABLE automatic_blocks (
    environment_id  INTEGER PRIMARY KEY REFERENCES environments(id),
    rollback_id     INTEGER NOT NULL REFERENCES rollbacks(id),
    deployment_id   INTEGER REFERENCES deployments(id),
    from_version    TEXT,
    target_version  TEXT,
    reason          TEXT NOT NULL,
    blocked_at      TEXT NOT NULL
);
"#;

/// Keep the last N states (seed 003): before each rollback, what its driver was
/// about to change (the serving version and colour; a flag driver's flag value
/// and its env file line, byte for byte), so `rollback --to-state` can put it
/// back. The newest `keep_states` per environment are kept; an older one keeps
/// its row, marked pruned with its env file line deleted, so it is refused by name.
const V5: &str = r#"
CREATE TABLE rollback_states (
    id              INTEGER PRIMARY KEY,
    environment_id  INTEGER NOT NULL REFERENCES environments(id),
    rollback_id     INTEGER NOT NULL REFERENCES rollbacks(id),
    taken_at        TEXT NOT NULL,
    driver          TEXT NOT NULL,
    version         TEXT,
    colour          TEXT,
    flag_key        TEXT,
    flag_location   TEXT,
    flag_value      TEXT,
    env_file        BLOB,
    pruned_at       TEXT
);
CREATE INDEX rollback_states_by_env ON rollback_states(environment_id, pruned_at, id);
"#;

/// Seed 002's governance: lessons learned on incidents, and follow-up actions
/// with an owner and a due date.
const V6: &str = r#"
ALTER TABLE incidents ADD COLUMN lessons TEXT;

CREATE TABLE follow_up_actions (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents(id),
    text         TEXT NOT NULL,
    owner        TEXT NOT NULL,
    due          TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    done_by      TEXT,
    done_at      TEXT
);
CREATE INDEX follow_up_actions_by_incident ON follow_up_actions(incident_id, id);
"#;

/// Seed 002's rollback authority: a rollback of an environment with
/// `approvals = 2` is first a request, run only when a second, different
/// operator approves it; the rollback then names its approver.
const V7: &str = r#"
ALTER TABLE rollbacks ADD COLUMN approved_by TEXT;

CREATE TABLE rollback_requests (
    id              INTEGER PRIMARY KEY,
    environment_id  INTEGER NOT NULL REFERENCES environments(id),
    incident_id     INTEGER REFERENCES incidents(id),
    requested_by    TEXT NOT NULL,
    requested_at    TEXT NOT NULL,
    reason          TEXT NOT NULL,
    version         TEXT,
    state_id        INTEGER,
    force           INTEGER NOT NULL DEFAULT 0,
    skip_validation INTEGER NOT NULL DEFAULT 0,
    from_version    TEXT,
    target_version  TEXT,
    colour          TEXT,
    plan            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'declined', 'stale', 'expired')),
    decided_by      TEXT,
    decided_at      TEXT,
    decision_note   TEXT,
    rollback_id     INTEGER REFERENCES rollbacks(id)
);
CREATE INDEX rollback_requests_by_env ON rollback_requests(environment_id, status);
"#;

/// Every migration, oldest first. The schema version is SQLite's `user_version`.
pub const MIGRATIONS: &[M<'static>] = &[M::up(V1), M::up(V2), M::up(V3), M::up(V4), M::up(V5), M::up(V6), M::up(V7)];

/// The migrations as the migration runner wants them.
pub fn migrations() -> Migrations<'static> {
    Migrations::from_slice(MIGRATIONS)
}

/// The schema version this binary writes.
pub fn latest_version() -> usize {
    MIGRATIONS.len()
}
