-- Schema 5: an admin's offline lease for one guide (N1), overriding `serve --offline-lease`.
CREATE TABLE guide_leases (
    guide_id TEXT PRIMARY KEY REFERENCES guides(id),
    seconds  INTEGER NOT NULL
);
