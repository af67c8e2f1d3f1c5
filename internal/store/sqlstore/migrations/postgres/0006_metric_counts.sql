-- How many metric rows each node holds, kept by the same transaction as
-- every insert and delete of them, so each commit enforces the node's
-- sample cap (--history-max-samples) without counting its rows. Updating
-- a node's row also makes its writers take turns.
CREATE TABLE metric_counts (
    node    TEXT   NOT NULL PRIMARY KEY,
    samples BIGINT NOT NULL
);
INSERT INTO metric_counts (node, samples) SELECT node, count(*) FROM metrics GROUP BY node;
-- What the store's write probe moves when the server has written nothing
-- for a while, to learn whether writes still succeed.
INSERT INTO counters (name, value) VALUES ('write_probe', 0);
