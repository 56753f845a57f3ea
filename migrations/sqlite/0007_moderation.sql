-- Moderation and bots.
--
-- A session may be a moderator (made so by a one-time link from `chinwag admin moderator-link`) or
-- a bot (made by `chinwag admin bot`, whose name claim never runs out). Neither is swept when
-- unseen. `address` is where the session last connected from: a ban also refuses new sessions
-- from it.
ALTER TABLE sessions ADD COLUMN moderator INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN address TEXT;

-- One-time links that make the browser session opening them a moderator. Only the token's
-- SHA-256 is kept.
CREATE TABLE moderator_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by INTEGER
);

-- Mutes and bans, each until a time; lifting one sets lifted_at. Kept after they end: they are
-- part of the record.
CREATE TABLE sanctions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('mute', 'ban')),
    session_id INTEGER NOT NULL,
    nick TEXT NOT NULL,
    nick_key TEXT NOT NULL,
    address TEXT,
    reason TEXT NOT NULL,
    by_nick TEXT NOT NULL,
    at TEXT NOT NULL,
    until TEXT NOT NULL,
    lifted_at TEXT
);
CREATE INDEX sanctions_session ON sanctions (session_id, kind, until);
CREATE INDEX sanctions_address ON sanctions (address, kind, until) WHERE address IS NOT NULL;

-- Every moderation action: who, what, on whom, when.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
