-- content: imported packages (their files live in the object store under
-- tenants/<tenant_id>/packages/<id>/), and two projections the SCORM export reads:
-- published course versions (from authoring) and ready media (from media).

CREATE TABLE packages (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    standard      text NOT NULL CHECK (standard IN ('scorm_1.2', 'scorm_2004', 'cmi5')),
    title         text NOT NULL,
    sha256        text NOT NULL,
    bytes         bigint NOT NULL,
    unpacked      bigint NOT NULL,
    files         integer NOT NULL,
    manifest      jsonb NOT NULL,
    course_id     uuid NOT NULL,
    into_existing boolean NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, sha256)
);
CREATE INDEX packages_by_created ON packages (tenant_id, created_at DESC, id DESC);

CREATE TABLE versions (
    course_id    uuid NOT NULL,
    version      integer NOT NULL,
    tenant_id    uuid NOT NULL,
    title        text NOT NULL,
    locale       text NOT NULL,
    outline      jsonb NOT NULL,
    published_at timestamptz NOT NULL,
    PRIMARY KEY (course_id, version)
);

CREATE TABLE media (
    asset_id     uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    filename     text NOT NULL,
    content_type text NOT NULL,
    object_key   text NOT NULL
);

SELECT enable_tenant_rls('packages');
SELECT enable_tenant_rls('versions');
SELECT enable_tenant_rls('media');
