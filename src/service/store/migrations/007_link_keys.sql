-- Schema 7: signed guide links (N2). Each organisation signs its stickers' links with ed25519
-- keys: the newest key not retired signs; a retired key's stickers are refused by devices. The
-- private key (PKCS#8) stays here; devices get the public keys with their session.
CREATE TABLE link_keys (
    organisation TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    public_key   BLOB NOT NULL,
    private_key  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER,
    PRIMARY KEY (organisation, key_id)
);

-- Organisations whose devices accept only signed links.
CREATE TABLE signed_links_required (
    organisation TEXT PRIMARY KEY
);
