-- Offline profile sync (S2, S3, S8): which cached guides are here because the member's offline
-- profile holds them, which the user opened themselves (kept when they leave the profile), and
-- what each sync planned and downloaded. The profile's ETag, revision and the last sync's
-- outcome live in sync_state.
CREATE TABLE profile_guides (
    guide_id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
);

CREATE TABLE opened_guides (
    guide_id  TEXT PRIMARY KEY,
    opened_at TEXT NOT NULL
);

CREATE TABLE data_usage (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at       TEXT NOT NULL,
    finished_at      TEXT NOT NULL,
    planned_bytes    INTEGER NOT NULL,
    downloaded_bytes INTEGER NOT NULL,
    guides           INTEGER NOT NULL,
    outcome          TEXT NOT NULL
);
