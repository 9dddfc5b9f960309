-- The vector store: text in chunks (lessons of published courses, from authoring's events)
-- with their embeddings from the local model (all-MiniLM-L6-v2, 384 dimensions), keyed by
-- (tenant, source type, source id, chunk). HNSW for cosine distance; every query runs in
-- the caller's tenant (RLS) with pgvector's iterative scan, so the filter never starves
-- the result. `model` names what made each vector: a model change re-embeds.

CREATE TABLE chunks (
    tenant_id   uuid NOT NULL,
    source_type text NOT NULL,
    source_id   uuid NOT NULL,
    chunk       integer NOT NULL CHECK (chunk >= 0),
    course_id   uuid,
    title       text NOT NULL,
    text        text NOT NULL,
    model       text NOT NULL,
    embedding   public.vector(384) NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, source_type, source_id, chunk)
);
CREATE INDEX chunks_by_course ON chunks (tenant_id, course_id);
CREATE INDEX chunks_by_model ON chunks (tenant_id, model);
CREATE INDEX chunks_hnsw ON chunks USING hnsw (embedding public.vector_cosine_ops);
SELECT enable_tenant_rls('chunks');

-- What authoring's events have said of each course (`mirai_kit::projection`).
CREATE TABLE courses_seen (
    aggregate_id uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    version      integer NOT NULL,
    ended        boolean NOT NULL DEFAULT false
);
SELECT enable_tenant_rls('courses_seen');
