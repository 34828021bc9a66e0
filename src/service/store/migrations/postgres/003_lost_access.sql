-- Schema 3: per-organisation policy for guides a member may no longer open (S6), as SQLite's
-- schema 8.
CREATE TABLE lost_access_policies (
    organisation TEXT PRIMARY KEY,
    policy       TEXT NOT NULL CHECK (policy IN ('keep_offline', 'lock_on_sync'))
);
