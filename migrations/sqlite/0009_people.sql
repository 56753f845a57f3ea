-- People, not cookies: a person owns a name, rooms, private messages, read positions, roles,
-- mutes and bans; a session (a cookie, one per browser or client) belongs to a person.
--
-- Every existing session becomes its own person, under the same number, so everything that named
-- a session by its number (name claims, mutes and bans, blocks, moderator links) now names that
-- person, and what named it by its token's hash (memberships, private messages, messages' authors)
-- is moved to the number.
CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nick TEXT NOT NULL,
    nick_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    moderator INTEGER NOT NULL DEFAULT 0,
    bot INTEGER NOT NULL DEFAULT 0,
    -- Where the person last connected from (a ban refuses new sessions from there), and where
    -- their first session was made.
    address TEXT,
    created_from TEXT,
    -- A password (argon2id, PHC string), if they set one.
    password_hash TEXT,
    -- The user handle their passkeys carry (a UUID), made with the first one.
    webauthn_id TEXT UNIQUE
);
INSERT INTO people (id, nick, nick_key, created_at, last_seen, moderator, bot, address, created_from)
    SELECT id, nick, nick_key, created_at, last_seen, moderator, bot, address, created_from
    FROM sessions;
CREATE INDEX people_nick_key ON people (nick_key);
CREATE INDEX people_last_seen ON people (last_seen);
CREATE INDEX people_created_from ON people (created_from, created_at)
    WHERE created_from IS NOT NULL;

-- A session is now a device's: its token, its person, where and what it last connected from.
CREATE TABLE sessions_v9 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    person_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    address TEXT,
    user_agent TEXT
);
INSERT INTO sessions_v9 (id, token_hash, person_id, created_at, last_seen, address)
    SELECT id, token_hash, id, created_at, last_seen, address FROM sessions;

-- Memberships by person.
CREATE TABLE memberships_v9 (
    person_id INTEGER NOT NULL,
    room TEXT NOT NULL REFERENCES rooms (name),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (person_id, room)
);
INSERT INTO memberships_v9 (person_id, room, joined_at)
    SELECT s.id, m.room, m.joined_at FROM memberships m JOIN sessions s ON s.token_hash = m.session_hash;
DROP TABLE memberships;
ALTER TABLE memberships_v9 RENAME TO memberships;
CREATE INDEX memberships_room ON memberships (room);

-- Private messages by person (those of sessions already swept keep no party).
ALTER TABLE direct_messages ADD COLUMN from_person INTEGER;
ALTER TABLE direct_messages ADD COLUMN to_person INTEGER;
UPDATE direct_messages SET
    from_person = (SELECT id FROM sessions WHERE token_hash = direct_messages.from_session),
    to_person = (SELECT id FROM sessions WHERE token_hash = direct_messages.to_session);
DROP INDEX direct_messages_once;
DROP INDEX direct_messages_from;
DROP INDEX direct_messages_to;
DROP INDEX direct_messages_pair;
ALTER TABLE direct_messages DROP COLUMN from_session;
ALTER TABLE direct_messages DROP COLUMN to_session;
CREATE UNIQUE INDEX direct_messages_once ON direct_messages (from_person, client_id);
CREATE INDEX direct_messages_from ON direct_messages (from_person, id);
CREATE INDEX direct_messages_to ON direct_messages (to_person, id);
CREATE INDEX direct_messages_pair ON direct_messages (from_person, to_person, id);

-- A message's author, by person (edits, and a client id used once per person and room).
ALTER TABLE messages ADD COLUMN person_id INTEGER;
UPDATE messages SET person_id = (SELECT id FROM sessions WHERE token_hash = messages.session_hash)
    WHERE session_hash IS NOT NULL;
DROP INDEX messages_once;
ALTER TABLE messages DROP COLUMN session_hash;
CREATE UNIQUE INDEX messages_once ON messages (room, person_id, client_id);

DROP TABLE sessions;
ALTER TABLE sessions_v9 RENAME TO sessions;
CREATE INDEX sessions_person ON sessions (person_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- Claims, sanctions and blocks named sessions by number: they name people now.
ALTER TABLE nick_claims RENAME COLUMN session_id TO person_id;
ALTER TABLE sanctions RENAME COLUMN session_id TO person_id;
ALTER TABLE blocks RENAME COLUMN session_id TO person_id;

-- Where each person has read to: a room's position, a private conversation's last id.
CREATE TABLE read_positions (
    person_id INTEGER NOT NULL,
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (person_id, room)
);
CREATE TABLE dm_read_positions (
    person_id INTEGER NOT NULL,
    peer INTEGER NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (person_id, peer)
);

-- Passkeys (WebAuthn credentials), as webauthn-rs keeps them (JSON).
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    passkey TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used TEXT
);
CREATE INDEX passkeys_person ON passkeys (person_id);

-- A WebAuthn ceremony under way (a passkey being added, or a sign-in), for the server that
-- finishes it, whichever it is. Kept a few minutes.
CREATE TABLE ceremonies (
    id TEXT PRIMARY KEY NOT NULL,
    person_id INTEGER,
    state TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- One-time links that sign another device in as a person (the token's SHA-256 is kept).
CREATE TABLE device_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    person_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

-- Invitations to an invite-only community (the token's SHA-256 is kept).
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    uses_left INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);

-- Failed password sign-ins, by name and by address, for the throttle (kept 15 minutes).
CREATE TABLE login_failures (
    key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
