-- Edits and deletes. A change is a row of the room's log like a message, with its own seq (so a
-- client's `since` counts it and catch-up stays exact): kind 1 an edit, 2 a delete, and `target`
-- the seq of the message changed. The message's own row always holds its current version: the new
-- text and `edited`, or an empty text and `deleted`. A delete also empties the text of the edits
-- before it, so the old words are gone from the store.
ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN target INTEGER;
ALTER TABLE messages ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
-- The edits of one message, found when it is deleted.
CREATE INDEX messages_target ON messages (room, target) WHERE target IS NOT NULL;
