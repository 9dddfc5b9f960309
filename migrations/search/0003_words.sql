-- Exact words in any language: the text vector also holds every word as written (the
-- 'simple' configuration, lowest weight) beside the document language's stems, so a
-- query's 'simple' form matches a word whatever the document's stemmer made of it.
DROP INDEX documents_fts;
ALTER TABLE documents DROP COLUMN tsv;
ALTER TABLE documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS
    (setweight(to_tsvector(config, title), 'A') || setweight(to_tsvector(config, body), 'B')
     || setweight(to_tsvector('simple'::regconfig, title || ' ' || body), 'D')) STORED;
CREATE INDEX documents_fts ON documents USING gin (tsv);

-- The words of the indexed text, for typo tolerance: a query word that is no word of the
-- index is replaced by its closest words here (trigram similarity, on a table of distinct
-- words rather than on every document's body), and the corrected query runs on the
-- full-text index. Kept per tenant and visibility under the documents' policies, so a
-- correction only ever comes from text the caller could find.
CREATE TABLE words (
    tenant_id  uuid NOT NULL,
    visibility text NOT NULL CHECK (visibility IN ('tenant', 'public')),
    word       text NOT NULL,
    PRIMARY KEY (tenant_id, visibility, word)
);
CREATE INDEX words_trgm ON words USING gin (word public.gin_trgm_ops);
SELECT enable_tenant_rls('words');
CREATE POLICY public_read ON words FOR SELECT USING (visibility = 'public');

-- The words of what is indexed already, across tenants: the owner is bound by the tenant
-- policy (FORCE) and sees no rows without a tenant, so it steps out of the policy for
-- this backfill only, inside this migration's transaction.
ALTER TABLE documents NO FORCE ROW LEVEL SECURITY;
ALTER TABLE words NO FORCE ROW LEVEL SECURITY;
INSERT INTO words (tenant_id, visibility, word)
SELECT DISTINCT d.tenant_id, d.visibility, w
FROM documents d, unnest(tsvector_to_array(to_tsvector('simple', d.title || ' ' || d.body))) AS w
WHERE length(w) BETWEEN 3 AND 40
ON CONFLICT DO NOTHING;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
ALTER TABLE words FORCE ROW LEVEL SECURITY;
