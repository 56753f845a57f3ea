-- Reactions to private messages: who reacted to which one with which emoji, now
-- (`direct_reactions`). Each reaction added or taken back is also a row of `direct_messages`
-- (kind 3 added, 4 taken back; `target` the message, `text` the emoji, `from_person` who), so it
-- takes an id in the private messages' sequence: `dm_since` counts it and a reconnect's catch-up
-- brings exactly those missed, in order. Every read of messages as such reads kind 0.
ALTER TABLE direct_messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE direct_messages ADD COLUMN target INTEGER;
CREATE TABLE direct_reactions (
    id INTEGER NOT NULL,
    person_id INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    nick TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (id, person_id, emoji)
);
CREATE INDEX direct_reactions_person ON direct_reactions (person_id);
-- A reaction's emoji is no text to search.
DROP TRIGGER direct_search_insert;
CREATE TRIGGER direct_search_insert AFTER INSERT ON direct_messages WHEN new.kind = 0 BEGIN
    INSERT INTO direct_search (rowid, text) VALUES (new.id, new.text);
END;
DROP TRIGGER direct_search_delete;
CREATE TRIGGER direct_search_delete AFTER DELETE ON direct_messages WHEN old.kind = 0 BEGIN
    INSERT INTO direct_search (direct_search, rowid, text) VALUES ('delete', old.id, old.text);
END;
