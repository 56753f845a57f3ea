-- Room membership belongs to a session (by its token hash), so it survives reconnects, reloads and
-- restarts. Everyone is in general without a row for it.
CREATE TABLE memberships (
    session_hash TEXT NOT NULL,
    room TEXT NOT NULL REFERENCES rooms (name),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (session_hash, room)
);

-- Private messages, readable only by their two parties (sessions, by token hash). The id orders all
-- of them and is what a reconnecting client continues from.
CREATE TABLE direct_messages (
    id BIGSERIAL PRIMARY KEY,
    from_session TEXT NOT NULL,
    to_session TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL,
    client_id TEXT,
    action BIGINT NOT NULL DEFAULT 0 CHECK (action IN (0, 1))
);
CREATE UNIQUE INDEX direct_messages_once ON direct_messages (from_session, client_id);
CREATE INDEX direct_messages_from ON direct_messages (from_session, id);
CREATE INDEX direct_messages_to ON direct_messages (to_session, id);
