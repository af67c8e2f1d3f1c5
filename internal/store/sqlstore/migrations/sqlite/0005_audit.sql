-- The audit trail: one row per strategy change (outcome 'allowed') or
-- refused write (outcome 'denied'). at is the record's time in Unix
-- nanoseconds, unique (the paging cursor). change holds the definitions
-- before and after, as JSON (see audit.Change); NULL for refusals.
-- Retention deletes by age, and by count per outcome (audit_outcome_at).
CREATE TABLE audit (
    at         INTEGER NOT NULL PRIMARY KEY,
    node       TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    identity   TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    credential TEXT    NOT NULL,
    method     TEXT    NOT NULL,
    route      TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    client     TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    suppressed INTEGER NOT NULL,
    change     TEXT
);
CREATE INDEX audit_outcome_at ON audit (outcome, at);
