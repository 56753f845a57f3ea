-- Reactions: who reacted to which room message with which emoji, now. Each reaction added or
-- taken back is also a row of the room's log (kind 3 added, 4 taken back; `target` the message,
-- `text` the emoji, `sender` who), so a client's `since` counts it and catch-up is exact, as for
-- edits. Deleting a message deletes its reactions in the same transaction.
CREATE TABLE reactions (
    room TEXT NOT NULL,
    seq BIGINT NOT NULL,
    person_id BIGINT NOT NULL,
    emoji TEXT NOT NULL,
    nick TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (room, seq, person_id, emoji)
);
CREATE INDEX reactions_person ON reactions (person_id);

-- The log's kinds: 0 a message, 1 an edit, 2 a delete, 3 a reaction added, 4 one taken back.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check CHECK (kind IN (0, 1, 2, 3, 4));
