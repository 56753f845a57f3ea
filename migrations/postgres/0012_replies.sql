-- Replies: a message may answer an earlier one of its room (reply_seq), keeping a quote of it as
-- it was when replied to: its author and its first 120 characters. Deleting the original sets
-- the quote's text to NULL in the delete's own transaction (shown as "message deleted"), so the
-- words are gone from the store with it.
ALTER TABLE messages ADD COLUMN reply_seq BIGINT;
ALTER TABLE messages ADD COLUMN reply_from TEXT;
ALTER TABLE messages ADD COLUMN reply_text TEXT;
CREATE INDEX messages_replies ON messages (room, reply_seq) WHERE reply_seq IS NOT NULL;
