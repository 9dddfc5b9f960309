-- Every word of the index once, across tenants: what typo corrections search by trigram
-- similarity. Under row-level security the trigram operator (not leakproof) cannot be an
-- index condition, so each lookup in `words` scanned every tenant's words; this table
-- holds no tenant and no document, only words, and which of its candidates a caller may
-- use is still decided under `words`' policies, by equality (which the index serves under
-- RLS). No endpoint reads it.
CREATE TABLE lexicon (word text PRIMARY KEY);
CREATE INDEX lexicon_trgm ON lexicon USING gin (word public.gin_trgm_ops);
DROP INDEX words_trgm;
CREATE INDEX words_by_word ON words (word);

ALTER TABLE words NO FORCE ROW LEVEL SECURITY;
INSERT INTO lexicon (word) SELECT DISTINCT word FROM words ON CONFLICT DO NOTHING;
ALTER TABLE words FORCE ROW LEVEL SECURITY;
