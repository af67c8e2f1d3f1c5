-- Placeholder for schema version 4, which another change adds (the
-- scheduler token signing key). It exists only so that this branch's
-- migrations are numbered without a gap; delete it when that change's
-- 0004 file is merged.
SELECT 1;
