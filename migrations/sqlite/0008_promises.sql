-- Abuse that costs only the abuser.
--
-- A ban extends to the other sessions made from the banned person's address shortly before it:
-- each gets a sanction row of its own, whose `parent` is the ban it extends (lifting the ban
-- lifts them).
ALTER TABLE sanctions ADD COLUMN parent INTEGER;
CREATE INDEX sanctions_parent ON sanctions (parent) WHERE parent IS NOT NULL;

-- Who may find whom: a session that blocked another receives no private message from it.
CREATE TABLE blocks (
    session_id INTEGER NOT NULL,
    blocked INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (session_id, blocked)
);

-- Whether two people ever wrote to each other, in one indexed read (the inbox of strangers is
-- capped).
CREATE INDEX direct_messages_pair ON direct_messages (from_session, to_session, id);

-- The address a room was created from (rooms per address are capped), and the address a session
-- was created from (a ban extends to the sessions made from the banned address shortly before).
ALTER TABLE rooms ADD COLUMN created_from TEXT;
CREATE INDEX rooms_created_from ON rooms (created_from) WHERE created_from IS NOT NULL;
ALTER TABLE sessions ADD COLUMN created_from TEXT;
CREATE INDEX sessions_created_from ON sessions (created_from, created_at)
    WHERE created_from IS NOT NULL;

-- What `chinwag admin` changed that running servers must act on (a deleted room, a lifted ban,
-- a revoked bot): each server reads the new rows every few seconds. Kept a day.
CREATE TABLE admin_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

-- Whom a message's `@name`s name, as resolved when it was posted (or last edited): the names,
-- one per line; NULL for none.
ALTER TABLE messages ADD COLUMN mentions TEXT;
