-- Schema 1 of the guide service on PostgreSQL: the SQLite schema 6 in one step. Times are Unix
-- seconds (UTC) as there, so that both stores hold the same values and a copy between them
-- changes nothing; ids are native UUIDs; token hashes are bytea.

CREATE TABLE users (
    id                UUID PRIMARY KEY,
    username          TEXT NOT NULL UNIQUE,
    password_hash     TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('admin', 'author', 'operator')),
    created_at        BIGINT NOT NULL,
    organisation      TEXT NOT NULL,
    all_organisations BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX users_by_organisation ON users(organisation, username);

CREATE TABLE group_members (
    group_name TEXT NOT NULL,
    user_id    UUID NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_name, user_id)
);
CREATE INDEX group_members_by_user ON group_members(user_id);

CREATE TABLE devices (
    user_id    UUID NOT NULL REFERENCES users(id),
    device_id  TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Tokens are stored as sha256 hashes only.
CREATE TABLE sessions (
    id                    UUID PRIMARY KEY,
    user_id               UUID NOT NULL REFERENCES users(id),
    device_id             TEXT NOT NULL,
    access_hash           BYTEA NOT NULL UNIQUE,
    access_expires_at     BIGINT NOT NULL,
    refresh_hash          BYTEA NOT NULL UNIQUE,
    refresh_expires_at    BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    revoked_at            BIGINT,
    previous_refresh_hash BYTEA UNIQUE,
    rotated_at            BIGINT,
    rotation_nonce        BYTEA
);

-- Keyed by the throttle keys of `core::sign_in`; shared by every instance (N4).
CREATE TABLE sign_in_failures (
    key             TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_time ON sign_in_failures(last_failure_at);

CREATE TABLE guides (
    id             UUID PRIMARY KEY,
    organisation   TEXT NOT NULL,
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    latest_version BIGINT NOT NULL,
    created_by     UUID NOT NULL REFERENCES users(id),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX guides_by_organisation ON guides(organisation);

-- Immutable: rows are only ever inserted.
CREATE TABLE guide_versions (
    guide_id     UUID NOT NULL REFERENCES guides(id),
    version      BIGINT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    guide_json   TEXT NOT NULL,
    total_bytes  BIGINT NOT NULL,
    published_by UUID NOT NULL REFERENCES users(id),
    published_at BIGINT NOT NULL,
    PRIMARY KEY (guide_id, version)
);

CREATE TABLE version_assets (
    guide_id UUID NOT NULL,
    version  BIGINT NOT NULL,
    path     TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    bytes    BIGINT NOT NULL,
    PRIMARY KEY (guide_id, version, path),
    FOREIGN KEY (guide_id, version) REFERENCES guide_versions(guide_id, version)
);
CREATE INDEX version_assets_by_blob ON version_assets(sha256);

CREATE TABLE version_steps (
    guide_id UUID NOT NULL,
    version  BIGINT NOT NULL,
    step_id  TEXT NOT NULL,
    PRIMARY KEY (guide_id, version, step_id),
    FOREIGN KEY (guide_id, version) REFERENCES guide_versions(guide_id, version)
);

CREATE TABLE guide_tags (
    guide_id UUID NOT NULL REFERENCES guides(id),
    tag      TEXT NOT NULL,
    PRIMARY KEY (guide_id, tag)
);
CREATE INDEX guide_tags_by_tag ON guide_tags(tag);

CREATE TABLE guide_leases (
    guide_id UUID PRIMARY KEY REFERENCES guides(id),
    seconds  BIGINT NOT NULL
);

CREATE TABLE permissions (
    guide_id       UUID NOT NULL REFERENCES guides(id),
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal      TEXT NOT NULL, -- a user id, or a group name
    granted_at     BIGINT NOT NULL,
    PRIMARY KEY (guide_id, principal_kind, principal)
);
CREATE INDEX permissions_by_principal ON permissions(principal_kind, principal);

CREATE TABLE profiles (
    id                   UUID PRIMARY KEY,
    organisation         TEXT NOT NULL,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL,
    modified_within_days BIGINT,
    revision             BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    UNIQUE (organisation, name)
);

CREATE TABLE profile_guides (
    profile_id UUID NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    guide_id   UUID NOT NULL,
    PRIMARY KEY (profile_id, guide_id)
);

CREATE TABLE profile_tags (
    profile_id UUID NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (profile_id, tag)
);

-- The primary key on user_id is S4: a user is in at most one profile.
CREATE TABLE profile_members (
    user_id    UUID PRIMARY KEY REFERENCES users(id),
    profile_id UUID NOT NULL REFERENCES profiles(id) ON DELETE CASCADE
);

CREATE TABLE telemetry (
    id          UUID PRIMARY KEY, -- made by the device: a resent event is recognised
    user_id     UUID NOT NULL REFERENCES users(id),
    device_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    guide_id    UUID,
    step_id     TEXT,
    duration_ms BIGINT,
    received_at BIGINT NOT NULL
);

CREATE TABLE telemetry_summaries (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users(id),
    device_id   TEXT NOT NULL,
    sessions    BIGINT NOT NULL,
    events      BIGINT NOT NULL,
    by_kind     TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    first_at    BIGINT NOT NULL,
    last_at     BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX telemetry_summaries_by_user ON telemetry_summaries(user_id, first_at);

CREATE TABLE results (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users(id),
    device_id    TEXT NOT NULL,
    guide_id     UUID NOT NULL,
    version      BIGINT NOT NULL,
    step_id      TEXT NOT NULL,
    completed_at BIGINT NOT NULL,
    value        TEXT,
    received_at  BIGINT NOT NULL
);
CREATE INDEX results_by_user ON results(user_id);
