-- The server's own secrets, such as the key scheduler tokens are signed
-- with: created once (the first writer, of any node, wins), never changed,
-- so every node sharing the database signs and checks scheduler tokens
-- with the same key, across restarts. created_at is in Unix seconds.
-- Deleting a row makes the next start create a new value.
CREATE TABLE secrets (
    name       TEXT   NOT NULL PRIMARY KEY,
    value      BYTEA  NOT NULL,
    created_at BIGINT NOT NULL
);
