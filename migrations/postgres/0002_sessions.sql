-- Sessions, so a browser keeps its nickname across server restarts. Only the SHA-256 of the token is
-- stored (hex): a copy of this table cannot be used to act as anyone.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    nick TEXT NOT NULL,
    created_at TEXT NOT NULL
);
