-- Replies between two people: a private message may answer an earlier one of the same two
-- (reply_id), keeping a quote of it as it was: its author and first 120 characters. Private
-- messages are never edited or deleted one by one (a deleted account takes the whole
-- conversation), so the quote stays as it was.
ALTER TABLE direct_messages ADD COLUMN reply_id BIGINT;
ALTER TABLE direct_messages ADD COLUMN reply_from TEXT;
ALTER TABLE direct_messages ADD COLUMN reply_text TEXT;
