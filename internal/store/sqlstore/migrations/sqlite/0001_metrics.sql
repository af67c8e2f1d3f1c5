-- Metric history: one row per sample, keyed by its unique receive time
-- (Unix nanoseconds, the rowid). The sample is packed: its 12 counters as
-- little-endian uint64 in the order of metrics.Fields, 96 bytes; reading
-- one column per row keeps hour-long history queries fast.
CREATE TABLE metrics (
    received_at INTEGER NOT NULL PRIMARY KEY,
    node        TEXT    NOT NULL,
    sample      BLOB    NOT NULL
);
