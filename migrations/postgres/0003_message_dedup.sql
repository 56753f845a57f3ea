-- Which session sent each message (its token hash), so a client_id is stored at most once per session
-- even across server restarts. Messages posted without a client_id (the no-JavaScript form) leave it
-- NULL and never collide: NULLs are distinct in a unique index.
ALTER TABLE messages ADD COLUMN session_hash TEXT;
CREATE UNIQUE INDEX messages_once ON messages (room, session_hash, client_id);
