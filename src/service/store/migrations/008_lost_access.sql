-- Schema 8: what members' devices do with a cached guide they may no longer open (S6), per
-- organisation, learnt at their next sync: 'keep_offline' (the copy stays usable offline until
-- cleared, never updated) or 'lock_on_sync' (it stops opening, with the reason). An
-- organisation without a row locks on sync.
CREATE TABLE lost_access_policies (
    organisation TEXT PRIMARY KEY,
    policy       TEXT NOT NULL CHECK (policy IN ('keep_offline', 'lock_on_sync'))
);
