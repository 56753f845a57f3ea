-- Rooms and their messages. A room's last_seq is bumped in the same transaction that inserts the
-- message (the row lock orders concurrent writers), so seqs are gap-free and in commit order.
CREATE TABLE rooms (
    name TEXT PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE messages (
    room TEXT NOT NULL REFERENCES rooms (name),
    seq BIGINT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL,
    client_id TEXT,
    -- 0 or 1; BIGINT like SQLite's INTEGER so one decoder reads both stores.
    action BIGINT NOT NULL DEFAULT 0 CHECK (action IN (0, 1)),
    PRIMARY KEY (room, seq)
);
