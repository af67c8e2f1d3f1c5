-- Nothing to do. Version 3 is SQLite's sample_layout table (its blobs
-- need one); PostgreSQL keeps a column per counter, named, and needs no
-- such table. This step keeps both databases' version numbers the same
-- for every later migration.
SELECT 1;
