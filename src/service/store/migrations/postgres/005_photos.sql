-- Schema 5: photos operators took at steps (N6), as SQLite's schema 10.
CREATE TABLE photos (
    sha256 TEXT PRIMARY KEY NOT NULL,
    organisation TEXT NOT NULL,
    user_id UUID NOT NULL,
    jpeg BYTEA NOT NULL,
    received_at BIGINT NOT NULL
);
