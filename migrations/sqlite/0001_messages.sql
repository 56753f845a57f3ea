-- Rooms and their messages. A room's last_seq is bumped in the same transaction that inserts the
-- message, so seqs are gap-free and in commit order.
CREATE TABLE rooms (
    name TEXT PRIMARY KEY NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE messages (
    room TEXT NOT NULL REFERENCES rooms (name),
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL,
    client_id TEXT,
    action INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room, seq)
);
