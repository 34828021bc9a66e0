-- Answers and step results stay after the service took them (N6: a run's report is rebuilt on
-- the device, offline too); `sent_at` says when it took them. Only unsent ones are uploaded.
ALTER TABLE pending_results ADD COLUMN sent_at TEXT;
