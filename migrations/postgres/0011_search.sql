-- Search: a tsvector of every message's text (case folded by the 'simple' configuration, accents
-- by unaccent), a generated column, so it is computed in the same statement, and so the same
-- transaction, as the insert, the edit or the delete that changes the text; and computed now for
-- every message already stored. A GIN index finds the words; a search keeps only messages
-- (kind 0) that are not deleted.
--
-- unaccent is a trusted extension (PostgreSQL 13 and later): the database's owner may create it.
-- Its function is not IMMUTABLE (it reads a dictionary), so a generated column calls it through
-- one that says it is, with the dictionary named in full.
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;
CREATE FUNCTION chinwag_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;

ALTER TABLE messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, chinwag_fold(text))) STORED;
CREATE INDEX messages_search ON messages USING gin (search);

-- Hits come newest first, by the order rows were stored in: a number per row, so the newest hits of
-- a common word are read from the end of an index instead of sorting every match.
ALTER TABLE messages ADD COLUMN row_id BIGSERIAL;
CREATE INDEX messages_row_id ON messages (row_id);

ALTER TABLE direct_messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, chinwag_fold(text))) STORED;
CREATE INDEX direct_messages_search ON direct_messages USING gin (search);

