-- Schema 3: idempotent refresh. The refresh token a session had before its last rotation stays
-- answerable for a short grace period, so a device killed between the service's answer and
-- saving it can ask again and get the same new pair. Only hashes are stored; the new pair is
-- re-derived from the previous token (which only the device has) and this rotation's nonce.
ALTER TABLE sessions ADD COLUMN previous_refresh_hash BLOB;
ALTER TABLE sessions ADD COLUMN rotated_at INTEGER;
ALTER TABLE sessions ADD COLUMN rotation_nonce BLOB;
CREATE UNIQUE INDEX sessions_by_previous_refresh ON sessions(previous_refresh_hash);
