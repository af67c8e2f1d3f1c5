-- Placeholder for schema version 3. SQLite's 0003 pins the packed sample
-- layout; PostgreSQL keeps a column per counter and needs no such step.
-- It exists only so that this branch's migrations are numbered without a
-- gap up to its 0005; delete it if the merged tree has another 0003.
SELECT 1;
