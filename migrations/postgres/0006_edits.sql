-- Edits and deletes. A change is a row of the room's log like a message, with its own seq (so a
-- client's `since` counts it and catch-up stays exact): kind 1 an edit, 2 a delete, and `target`
-- the seq of the message changed. The message's own row always holds its current version: the new
-- text and `edited`, or an empty text and `deleted`. A delete also empties the text of the edits
-- before it, so the old words are gone from the store.
-- Flags are BIGINT like SQLite's INTEGER, so one decoder reads both stores.
ALTER TABLE messages ADD COLUMN kind BIGINT NOT NULL DEFAULT 0 CHECK (kind IN (0, 1, 2));
ALTER TABLE messages ADD COLUMN target BIGINT;
ALTER TABLE messages ADD COLUMN edited BIGINT NOT NULL DEFAULT 0 CHECK (edited IN (0, 1));
ALTER TABLE messages ADD COLUMN deleted BIGINT NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1));
CREATE INDEX messages_target ON messages (room, target) WHERE target IS NOT NULL;
