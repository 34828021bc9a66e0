-- Schema 9: what each step of a version records (N6), as the guide says it (JSON; NULL for a
-- step that records nothing), so that step results are checked against it at upload.
ALTER TABLE version_steps ADD COLUMN capture TEXT;
