-- The server's own secrets, such as the key scheduler tokens are signed
-- with: created once (the first writer wins), never changed, so tokens
-- signed with a key stay valid across restarts. created_at is in Unix
-- seconds. Deleting a row makes the next start create a new value.
CREATE TABLE secrets (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
