-- Reactions to private messages: who reacted to which one with which emoji, now
-- (`direct_reactions`). Each reaction added or taken back is also a row of `direct_messages`
-- (kind 3 added, 4 taken back; `target` the message, `text` the emoji, `from_person` who), so it
-- takes an id in the private messages' sequence: `dm_since` counts it and a reconnect's catch-up
-- brings exactly those missed, in order. Every read of messages as such reads kind 0.
ALTER TABLE direct_messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE direct_messages ADD COLUMN target BIGINT;
CREATE TABLE direct_reactions (
    id BIGINT NOT NULL,
    person_id BIGINT NOT NULL,
    emoji TEXT NOT NULL,
    nick TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (id, person_id, emoji)
);
CREATE INDEX direct_reactions_person ON direct_reactions (person_id);
