-- Who this database belongs to, and the clock's high-water mark (N1).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row: the signed-in session of this database's user (F4, F5, F10).
CREATE TABLE session (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    refresh_token       TEXT,
    refresh_expires_at  TEXT,
    access_token        TEXT,
    access_expires_at   TEXT,
    last_online_sign_in TEXT
);

-- A guide known to this cache: which version is current, and whether the service still lets
-- the user have it (F13, F14).
CREATE TABLE guides (
    guide_id        TEXT PRIMARY KEY,
    current_version INTEGER,
    status          TEXT NOT NULL DEFAULT 'active',
    status_message  TEXT,
    status_at       TEXT
);

CREATE TABLE versions (
    guide_id         TEXT NOT NULL REFERENCES guides(guide_id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    title            TEXT NOT NULL,
    manifest         TEXT NOT NULL,
    content_hash     TEXT NOT NULL,
    downloaded_at    TEXT NOT NULL,
    lease_expires_at TEXT,
    PRIMARY KEY (guide_id, version)
);

-- The blobs a version needs, by path inside the guide package.
CREATE TABLE version_assets (
    guide_id TEXT NOT NULL,
    version  INTEGER NOT NULL,
    path     TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    bytes    INTEGER NOT NULL,
    PRIMARY KEY (guide_id, version, path),
    FOREIGN KEY (guide_id, version) REFERENCES versions(guide_id, version) ON DELETE CASCADE
);
CREATE INDEX version_assets_by_sha ON version_assets(sha256);

-- Content-addressed: one row per distinct content. `complete = 0` while a resumable download
-- is under way; only complete (hash-verified) blobs can be referenced by a committed version.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    complete   INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

-- The bytes, in pieces: appending a piece of a download is one small insert, not a rewrite of
-- everything received so far.
CREATE TABLE blob_chunks (
    sha256 TEXT NOT NULL REFERENCES blobs(sha256) ON DELETE CASCADE,
    offset INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (sha256, offset)
);
