-- Schema 6: organisations as tenants (N4). A user belongs to one organisation and acts within
-- it; a guide belongs to the organisation that first published it (the `organisation` it was
-- stored with, never changed by a later publish); a profile belongs to one organisation.
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

ALTER TABLE profiles ADD COLUMN organisation TEXT NOT NULL DEFAULT '';
UPDATE profiles SET organisation = (SELECT name FROM upgrade_default_organisation);

CREATE INDEX guides_by_organisation ON guides(organisation);

DROP TABLE upgrade_default_organisation;
