-- N6: photos the operator took at steps, kept in the encrypted cache by the SHA-256 of their
-- JPEG (the answer record names it) until the service has them; `sent_at` says when it took
-- them. They stay after upload with the records that name them.
CREATE TABLE photos (
    sha256 TEXT PRIMARY KEY NOT NULL,
    jpeg BLOB NOT NULL,
    taken_at TEXT NOT NULL,
    sent_at TEXT
);
