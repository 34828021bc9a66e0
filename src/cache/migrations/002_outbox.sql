-- Telemetry kept on the device for a bounded number of app sessions (F9).
CREATE TABLE app_sessions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL UNIQUE,
    started_at TEXT NOT NULL
);

CREATE TABLE telemetry (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    app_session TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          TEXT NOT NULL,
    guide_id    TEXT,
    step_id     TEXT,
    duration_ms INTEGER
);
CREATE INDEX telemetry_by_session ON telemetry(app_session);

-- Sessions past the bound, summarised rather than dropped: how many events of each kind.
CREATE TABLE telemetry_summaries (
    id          TEXT PRIMARY KEY,
    sessions    INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    first_at    TEXT NOT NULL,
    last_at     TEXT NOT NULL,
    by_kind     TEXT NOT NULL,
    duration_ms INTEGER NOT NULL
);

-- Step results made on the device, possibly offline, until the service took them (N5, S6).
CREATE TABLE pending_results (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    guide_id     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    step_id      TEXT NOT NULL,
    completed_at TEXT NOT NULL,
    value        TEXT,
    rejected_code   TEXT,
    rejected_reason TEXT
);

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
