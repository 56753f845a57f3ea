-- The store owns sessions, nickname claims and memberships; a server's memory is only a cache.
--
-- Sessions get a number (their identity on every node), the key their nickname is claimed under,
-- and a last-seen time: sessions unseen for longer than the session TTL are deleted by a sweep.
-- Existing sessions count as seen now.
CREATE TABLE sessions_v5 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    nick TEXT NOT NULL,
    nick_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
INSERT INTO sessions_v5 (token_hash, nick, nick_key, created_at, last_seen)
    SELECT token_hash, nick, lower(nick), created_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_v5 RENAME TO sessions;
CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- Who holds each nickname: one row per name key (the normalized, confusable-folded form), so two
-- sessions can never hold one name, even racing on two nodes. A claim lasts until held_until; the
-- holder's server keeps moving it forward while the session is connected, and a session may take
-- over a name whose claim has run out.
CREATE TABLE nick_claims (
    nick_key TEXT PRIMARY KEY NOT NULL,
    session_id INTEGER NOT NULL,
    held_until TEXT NOT NULL
);
CREATE INDEX nick_claims_session ON nick_claims (session_id);

-- Private-message ids come from a counter row bumped in the inserting transaction, as room seqs
-- do: the row lock orders writers, so ids follow commit order.
CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value)
    SELECT 'direct_messages', COALESCE(MAX(id), 0) FROM direct_messages;

CREATE INDEX memberships_room ON memberships (room);
