-- The store owns sessions, nickname claims and memberships; a server's memory is only a cache.
--
-- Sessions get a number (their identity on every node), the key their nickname is claimed under,
-- and a last-seen time: sessions unseen for longer than the session TTL are deleted by a sweep.
-- Existing sessions count as seen now.
ALTER TABLE sessions ADD COLUMN id BIGSERIAL;
ALTER TABLE sessions ADD CONSTRAINT sessions_id_key UNIQUE (id);
ALTER TABLE sessions ADD COLUMN nick_key TEXT;
UPDATE sessions SET nick_key = lower(nick);
ALTER TABLE sessions ALTER COLUMN nick_key SET NOT NULL;
ALTER TABLE sessions ADD COLUMN last_seen TEXT;
UPDATE sessions SET last_seen = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
ALTER TABLE sessions ALTER COLUMN last_seen SET NOT NULL;
CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- Who holds each nickname: one row per name key (the normalized, confusable-folded form), so two
-- sessions can never hold one name, even racing on two nodes. A claim lasts until held_until; the
-- holder's server keeps moving it forward while the session is connected, and a session may take
-- over a name whose claim has run out.
CREATE TABLE nick_claims (
    nick_key TEXT PRIMARY KEY NOT NULL,
    session_id BIGINT NOT NULL,
    held_until TEXT NOT NULL
);
CREATE INDEX nick_claims_session ON nick_claims (session_id);

-- Private-message ids come from a counter row bumped in the inserting transaction, as room seqs
-- do: the row lock orders writers on every node, so ids follow commit order (a BIGSERIAL does
-- not: two writers can commit 13 before 12).
CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value)
    SELECT 'direct_messages', COALESCE(MAX(id), 0) FROM direct_messages;

CREATE INDEX memberships_room ON memberships (room);
