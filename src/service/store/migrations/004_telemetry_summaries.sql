-- Schema 4: telemetry summaries (F9). A device that kept more app sessions than its bound
-- folds the oldest into one counted record; it is stored once, by its device-made id, like
-- the events it stands for.
CREATE TABLE telemetry_summaries (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    device_id   TEXT NOT NULL,
    sessions    INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    by_kind     TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    first_at    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX telemetry_summaries_by_user ON telemetry_summaries(user_id, first_at);
