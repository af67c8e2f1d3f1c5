-- The stored sample's layout: which counters a metrics.sample blob holds,
-- as little-endian uint64, in order of position (byte offset 8*position).
-- These are the twelve counters 0001 packed, in the order it packed them.
-- The code reads this table at open, so the layout never follows the
-- order of metrics.Fields.
--
-- Adding a counter is a new migration that appends it:
--     INSERT INTO sample_layout (position, name) VALUES (12, 'nr_new');
-- Rows written before it have shorter blobs; they read with the new
-- counter at 0. Never renumber, reorder or delete a row here.
CREATE TABLE sample_layout (
    position INTEGER NOT NULL PRIMARY KEY,
    name     TEXT    NOT NULL UNIQUE
);
INSERT INTO sample_layout (position, name) VALUES
    (0, 'usersched_pid'),
    (1, 'usersched_last_run_at'),
    (2, 'nr_queued'),
    (3, 'nr_scheduled'),
    (4, 'nr_running'),
    (5, 'nr_online_cpus'),
    (6, 'nr_user_dispatches'),
    (7, 'nr_kernel_dispatches'),
    (8, 'nr_cancel_dispatches'),
    (9, 'nr_bounce_dispatches'),
    (10, 'nr_failed_dispatches'),
    (11, 'nr_sched_congested');
