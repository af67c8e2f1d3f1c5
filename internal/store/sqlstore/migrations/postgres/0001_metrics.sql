-- Metric history: one row per sample. Several bss-api nodes share the
-- table; each row carries its node's name, and a node's receive times
-- (Unix nanoseconds) are unique. Counters are uint64 stored bit for bit in
-- BIGINT (int64(u)) and read back as uint64.
CREATE TABLE metrics (
    node                  TEXT   NOT NULL,
    received_at           BIGINT NOT NULL,
    usersched_pid         BIGINT NOT NULL,
    usersched_last_run_at BIGINT NOT NULL,
    nr_queued             BIGINT NOT NULL,
    nr_scheduled          BIGINT NOT NULL,
    nr_running            BIGINT NOT NULL,
    nr_online_cpus        BIGINT NOT NULL,
    nr_user_dispatches    BIGINT NOT NULL,
    nr_kernel_dispatches  BIGINT NOT NULL,
    nr_cancel_dispatches  BIGINT NOT NULL,
    nr_bounce_dispatches  BIGINT NOT NULL,
    nr_failed_dispatches  BIGINT NOT NULL,
    nr_sched_congested    BIGINT NOT NULL,
    PRIMARY KEY (node, received_at)
);
