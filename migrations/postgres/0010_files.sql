-- Uploaded files. The bytes live in the file storage (a directory under the data directory, or a
-- bucket) under their SHA-256, so the same bytes uploaded twice are kept once; a row is one upload
-- by one person, attached to at most one message (a room's, by room and seq, or a private one).
-- A row never attached is swept an hour after its upload.
CREATE TABLE files (
    id TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL,
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    type TEXT NOT NULL,
    width BIGINT,
    height BIGINT,
    thumb TEXT,
    thumb_type TEXT,
    created_at TEXT NOT NULL,
    room TEXT,
    seq BIGINT,
    direct_id BIGINT,
    position BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX files_message ON files (room, seq);
CREATE INDEX files_direct ON files (direct_id);
CREATE INDEX files_person ON files (person_id);
CREATE INDEX files_hash ON files (hash);
CREATE INDEX files_thumb ON files (thumb);
CREATE INDEX files_created ON files (created_at);

-- A person's picture: the hash of the square thumbnail the server made from their upload.
ALTER TABLE people ADD COLUMN avatar TEXT;

-- Objects (files' bytes, thumbnails, avatars) that a delete left without a row naming them, by
-- hash: written in the delete's transaction, removed from the file storage by the collector,
-- which deletes an object only if no row names it again by then.
CREATE TABLE unlinked_objects (
    hash TEXT PRIMARY KEY
);
