-- Strategy definitions in precedence order, as written (JSON text), and a
-- counter that moves with every change (shared by every node).
CREATE TABLE strategies (
    position INTEGER NOT NULL UNIQUE,
    name     TEXT    NOT NULL PRIMARY KEY,
    body     TEXT    NOT NULL
);
CREATE TABLE counters (
    name  TEXT   NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('strategies_version', 0);
