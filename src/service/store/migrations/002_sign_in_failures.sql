-- Schema 2: consecutive failed sign-ins per user name, for throttling password guessing.

CREATE TABLE sign_in_failures (
    username        TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_by_time ON sign_in_failures(last_failure_at);
