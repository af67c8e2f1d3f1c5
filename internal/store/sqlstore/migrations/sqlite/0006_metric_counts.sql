-- How many metric rows the history holds, kept by the same transaction as
-- every insert and delete of them, so each commit enforces the sample cap
-- (--history-max-samples) without counting the table. A SQLite file is
-- one node's: its count, under node '', is of every row, whichever node
-- name wrote it.
CREATE TABLE metric_counts (
    node    TEXT    NOT NULL PRIMARY KEY,
    samples INTEGER NOT NULL
);
INSERT INTO metric_counts (node, samples) SELECT '', count(*) FROM metrics;
-- What the store's write probe moves when the server has written nothing
-- for a while, to learn whether writes still succeed.
INSERT INTO counters (name, value) VALUES ('write_probe', 0);
