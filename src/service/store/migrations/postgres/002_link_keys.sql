-- Schema 2: signed guide links (N2), as SQLite's schema 7.
CREATE TABLE link_keys (
    organisation TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    public_key   BYTEA NOT NULL,
    private_key  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT,
    PRIMARY KEY (organisation, key_id)
);

CREATE TABLE signed_links_required (
    organisation TEXT PRIMARY KEY
);
