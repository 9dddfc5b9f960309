-- Documents a generation may be grounded in: media's ready assets of a readable type
-- (PDF, plain text, Markdown), from `media.asset.ready.v1`. The text is extracted, cut
-- into chunks and embedded into `chunks` (source_type `document`) the first time a
-- generation asks for the document, and again when its bytes or the model change
-- (`indexed_sha256`, `indexed_model`). A deleted asset leaves a tombstone, so a late
-- `ready` cannot bring it back, and its chunks go.

CREATE TABLE documents (
    asset_id       uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL,
    filename       text NOT NULL,
    content_type   text NOT NULL,
    size           bigint NOT NULL,
    sha256         text NOT NULL,
    object_key     text NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    indexed_sha256 text,
    indexed_model  text,
    pages          integer,
    chunks         integer,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
SELECT enable_tenant_rls('documents');

ALTER TABLE generations ADD COLUMN documents uuid[] NOT NULL DEFAULT '{}';
