-- Schema 1 of the guide service. Times are Unix seconds (UTC); ids are UUID text.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'author', 'operator')),
    created_at    INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_name TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_name, user_id)
);
CREATE INDEX group_members_by_user ON group_members(user_id);

-- (user, device) pairs the service has seen.
CREATE TABLE devices (
    user_id    TEXT NOT NULL REFERENCES users(id),
    device_id  TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Tokens are stored as sha256 hashes only.
CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users(id),
    device_id          TEXT NOT NULL,
    access_hash        BLOB NOT NULL UNIQUE,
    access_expires_at  INTEGER NOT NULL,
    refresh_hash       BLOB NOT NULL UNIQUE,
    refresh_expires_at INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    revoked_at         INTEGER
);

CREATE TABLE guides (
    id             TEXT PRIMARY KEY,
    organisation   TEXT NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1,
    latest_version INTEGER NOT NULL,
    created_by     TEXT NOT NULL REFERENCES users(id),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Immutable: rows are only ever inserted.
CREATE TABLE guide_versions (
    guide_id     TEXT NOT NULL REFERENCES guides(id),
    version      INTEGER NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    guide_json   TEXT NOT NULL,
    total_bytes  INTEGER NOT NULL,
    published_by TEXT NOT NULL REFERENCES users(id),
    published_at INTEGER NOT NULL,
    PRIMARY KEY (guide_id, version)
);

CREATE TABLE version_assets (
    guide_id TEXT NOT NULL,
    version  INTEGER NOT NULL,
    path     TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    bytes    INTEGER NOT NULL,
    PRIMARY KEY (guide_id, version, path),
    FOREIGN KEY (guide_id, version) REFERENCES guide_versions(guide_id, version)
);
CREATE INDEX version_assets_by_blob ON version_assets(sha256);

CREATE TABLE version_steps (
    guide_id TEXT NOT NULL,
    version  INTEGER NOT NULL,
    step_id  TEXT NOT NULL,
    PRIMARY KEY (guide_id, version, step_id),
    FOREIGN KEY (guide_id, version) REFERENCES guide_versions(guide_id, version)
);

CREATE TABLE guide_tags (
    guide_id TEXT NOT NULL REFERENCES guides(id),
    tag      TEXT NOT NULL,
    PRIMARY KEY (guide_id, tag)
);
CREATE INDEX guide_tags_by_tag ON guide_tags(tag);

CREATE TABLE permissions (
    guide_id       TEXT NOT NULL REFERENCES guides(id),
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal      TEXT NOT NULL, -- a user id, or a group name
    granted_at     INTEGER NOT NULL,
    PRIMARY KEY (guide_id, principal_kind, principal)
);
CREATE INDEX permissions_by_principal ON permissions(principal_kind, principal);

CREATE TABLE profiles (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    description          TEXT NOT NULL,
    modified_within_days INTEGER,
    revision             INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE profile_guides (
    profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    guide_id   TEXT NOT NULL,
    PRIMARY KEY (profile_id, guide_id)
);

CREATE TABLE profile_tags (
    profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (profile_id, tag)
);

-- The primary key on user_id is S4: a user is in at most one profile.
CREATE TABLE profile_members (
    user_id    TEXT PRIMARY KEY REFERENCES users(id),
    profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE
);

CREATE TABLE telemetry (
    id          TEXT PRIMARY KEY, -- made by the device: a resent event is recognised
    user_id     TEXT NOT NULL REFERENCES users(id),
    device_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    guide_id    TEXT,
    step_id     TEXT,
    duration_ms INTEGER,
    received_at INTEGER NOT NULL
);

CREATE TABLE results (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    device_id    TEXT NOT NULL,
    guide_id     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    step_id      TEXT NOT NULL,
    completed_at INTEGER NOT NULL,
    value        TEXT,
    received_at  INTEGER NOT NULL
);
CREATE INDEX results_by_user ON results(user_id);
