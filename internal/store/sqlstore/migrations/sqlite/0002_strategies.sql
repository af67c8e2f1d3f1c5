-- Strategy definitions in precedence order, as written (JSON), and a
-- counter that moves with every change.
CREATE TABLE strategies (
    position INTEGER NOT NULL UNIQUE,
    name     TEXT    NOT NULL PRIMARY KEY,
    body     TEXT    NOT NULL
);
CREATE TABLE counters (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('strategies_version', 0);
