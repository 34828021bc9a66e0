-- Signed guide links (N2): the link keys of the signed-in user's organisation and whether it
-- requires signatures, as the service last said; a sticker is checked against them offline.
CREATE TABLE link_keys (
    organisation TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    public_key   BLOB NOT NULL,
    retired      INTEGER NOT NULL,
    PRIMARY KEY (organisation, key_id)
);

CREATE TABLE signed_links_required (
    organisation TEXT PRIMARY KEY
);
