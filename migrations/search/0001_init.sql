-- search: course and lesson documents projected from authoring's publications, with a
-- full-text vector in the document's language (stemming per locale) and trigram indexes
-- for typo tolerance and autocomplete. A tenant searches its own documents (the tenant
-- policy) and every public one (a read-only policy). Private courses are not indexed.

CREATE TABLE documents (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    course_id    uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('course', 'lesson')),
    locale       text NOT NULL,
    config       regconfig NOT NULL,
    visibility   text NOT NULL CHECK (visibility IN ('tenant', 'public')),
    title        text NOT NULL,
    body         text NOT NULL,
    version      integer NOT NULL,
    published_at timestamptz NOT NULL,
    tsv          tsvector GENERATED ALWAYS AS
                   (setweight(to_tsvector(config, title), 'A') || setweight(to_tsvector(config, body), 'B')) STORED
);
CREATE INDEX documents_by_course ON documents (course_id);
CREATE INDEX documents_fts ON documents USING gin (tsv);
CREATE INDEX documents_title_trgm ON documents USING gin (title public.gin_trgm_ops);
CREATE INDEX documents_body_trgm ON documents USING gin (body public.gin_trgm_ops);

-- What the events have said of each course, whatever order they arrive in: the newest
-- version seen, and whether it was retired (`mirai_kit::projection`). Only news changes
-- the read model.
CREATE TABLE courses_seen (
    aggregate_id uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    version      integer NOT NULL,
    ended        boolean NOT NULL DEFAULT false
);
SELECT enable_tenant_rls('courses_seen');

SELECT enable_tenant_rls('documents');
CREATE POLICY public_read ON documents FOR SELECT USING (visibility = 'public');
