-- Schema 6: organisations as tenants (N4). A user belongs to one organisation and acts within
-- it; a guide belongs to the organisation that first published it (the `organisation` it was
-- stored with, never changed by a later publish); a profile belongs to one organisation, and
-- its name is unique within it.
--
-- Existing data moves into the default organisation: the organisation most of the existing
-- guides were published under (on a single-organisation service, the only one), or 'default' on
-- a service without guides. Guides keep their own organisation. Nobody becomes a server-wide
-- admin by upgrading: that is granted explicitly (`hologuide-server user add --all-organisations`).
CREATE TEMPORARY TABLE upgrade_default_organisation AS
    SELECT COALESCE(
        (SELECT organisation FROM guides GROUP BY organisation
         ORDER BY COUNT(*) DESC, organisation LIMIT 1),
        'default') AS name;

ALTER TABLE users ADD COLUMN organisation TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN all_organisations INTEGER NOT NULL DEFAULT 0;
UPDATE users SET organisation = (SELECT name FROM upgrade_default_organisation);
CREATE INDEX users_by_organisation ON users(organisation, username);

-- Profile names become unique per organisation rather than per service: the tables are
-- rebuilt (SQLite cannot drop a UNIQUE constraint), children first so that no ON DELETE CASCADE
-- fires, with every row kept.
CREATE TEMPORARY TABLE upgrade_profiles AS SELECT * FROM profiles;
CREATE TEMPORARY TABLE upgrade_profile_guides AS SELECT * FROM profile_guides;
CREATE TEMPORARY TABLE upgrade_profile_tags AS SELECT * FROM profile_tags;
CREATE TEMPORARY TABLE upgrade_profile_members AS SELECT * FROM profile_members;
DROP TABLE profile_members;
DROP TABLE profile_tags;
DROP TABLE profile_guides;
DROP TABLE profiles;

CREATE TABLE profiles (
    id                   TEXT PRIMARY KEY,
    organisation         TEXT NOT NULL,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL,
    modified_within_days INTEGER,
    revision             INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (organisation, name)
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

INSERT INTO profiles (id, organisation, name, description, modified_within_days, revision,
                      created_at, updated_at)
    SELECT id, (SELECT name FROM upgrade_default_organisation), name, description,
           modified_within_days, revision, created_at, updated_at
    FROM upgrade_profiles;
INSERT INTO profile_guides SELECT profile_id, guide_id FROM upgrade_profile_guides;
INSERT INTO profile_tags SELECT profile_id, tag FROM upgrade_profile_tags;
INSERT INTO profile_members SELECT user_id, profile_id FROM upgrade_profile_members;
DROP TABLE upgrade_profiles;
DROP TABLE upgrade_profile_guides;
DROP TABLE upgrade_profile_tags;
DROP TABLE upgrade_profile_members;

CREATE INDEX guides_by_organisation ON guides(organisation);

DROP TABLE upgrade_default_organisation;
