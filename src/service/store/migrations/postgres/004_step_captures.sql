-- Schema 4: what each step of a version records (N6), as SQLite's schema 9.
ALTER TABLE version_steps ADD COLUMN capture TEXT;
