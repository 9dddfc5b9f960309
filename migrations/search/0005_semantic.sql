-- Semantic and hybrid search: each document's vector from the local embedding model
-- (all-MiniLM-L6-v2, 384 dimensions; `model` names it), kept in Postgres whichever lexical
-- engine runs, with the same visibility rule as the documents (the tenant's own, and what
-- is public). `features` projects the tenant's `ai.semantic_search` flag: semantic results
-- are off until it is on.

CREATE TABLE vectors (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    course_id  uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('course', 'lesson')),
    locale     text NOT NULL,
    visibility text NOT NULL CHECK (visibility IN ('tenant', 'public')),
    title      text NOT NULL,
    snippet    text NOT NULL,
    model      text NOT NULL,
    embedding  public.vector(384) NOT NULL
);
CREATE INDEX vectors_by_course ON vectors (course_id);
CREATE INDEX vectors_hnsw ON vectors USING hnsw (embedding public.vector_cosine_ops);
SELECT enable_tenant_rls('vectors');
CREATE POLICY public_read ON vectors FOR SELECT USING (visibility = 'public');

CREATE TABLE features (
    tenant_id uuid NOT NULL,
    key       text NOT NULL,
    enabled   boolean NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
SELECT enable_tenant_rls('features');
