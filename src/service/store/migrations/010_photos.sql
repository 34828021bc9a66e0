-- Schema 10: photos operators took at steps (N6), by the SHA-256 of their JPEG, with who sent
-- them and their organisation (only its admins and the sender may read them back).
CREATE TABLE photos (
    sha256 TEXT PRIMARY KEY NOT NULL,
    organisation TEXT NOT NULL,
    user_id TEXT NOT NULL,
    jpeg BLOB NOT NULL,
    received_at INTEGER NOT NULL
);
