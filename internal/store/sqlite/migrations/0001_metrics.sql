-- Metric history: one row per sample, keyed by its unique receive time
-- (Unix nanoseconds). Counters are uint64 stored bit for bit in INTEGER.
CREATE TABLE metrics (
    received_at           INTEGER NOT NULL PRIMARY KEY,
    node                  TEXT    NOT NULL,
    usersched_pid         INTEGER NOT NULL,
    usersched_last_run_at INTEGER NOT NULL,
    nr_queued             INTEGER NOT NULL,
    nr_scheduled          INTEGER NOT NULL,
    nr_running            INTEGER NOT NULL,
    nr_online_cpus        INTEGER NOT NULL,
    nr_user_dispatches    INTEGER NOT NULL,
    nr_kernel_dispatches  INTEGER NOT NULL,
    nr_cancel_dispatches  INTEGER NOT NULL,
    nr_bounce_dispatches  INTEGER NOT NULL,
    nr_failed_dispatches  INTEGER NOT NULL,
    nr_sched_congested    INTEGER NOT NULL
) WITHOUT ROWID;
