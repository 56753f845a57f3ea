-- Search: an FTS5 index over the text of every row of the room logs and of private messages,
-- with case and accents folded (unicode61, remove_diacritics 2). The index holds no copy of the
-- text (external content); triggers keep it in step with every insert, edit (the row's text is
-- rewritten), delete (emptied) and removal, inside the statement's own transaction. Edit and
-- delete rows of the log are indexed too (so `rebuild` needs no filter); a search keeps only
-- messages (kind 0) that are not deleted.
--
-- The index names rows by rowid: a VACUUM may renumber the messages table, after which the index
-- must be rebuilt: INSERT INTO message_search(message_search) VALUES ('rebuild').
CREATE VIRTUAL TABLE message_search USING fts5(
    text,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER message_search_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO message_search (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
-- Every message stored before this version.
INSERT INTO message_search (message_search) VALUES ('rebuild');

CREATE VIRTUAL TABLE direct_search USING fts5(
    text,
    content = 'direct_messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER direct_search_insert AFTER INSERT ON direct_messages BEGIN
    INSERT INTO direct_search (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER direct_search_update AFTER UPDATE OF text ON direct_messages BEGIN
    INSERT INTO direct_search (direct_search, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO direct_search (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER direct_search_delete AFTER DELETE ON direct_messages BEGIN
    INSERT INTO direct_search (direct_search, rowid, text) VALUES ('delete', old.id, old.text);
END;
INSERT INTO direct_search (direct_search) VALUES ('rebuild');

