-- media: uploaded files. An asset starts as an upload intent (`pending`: declared name,
-- type and size, a presigned URL handed out) and becomes `ready` once the object is
-- checked (it exists, size and type match, SHA-256 recorded). `asset_uses` is a
-- projection of authoring's published versions: an asset a published version shows
-- cannot be deleted.

CREATE TABLE assets (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'ready')),
    filename          text NOT NULL,
    content_type      text NOT NULL,
    size              bigint NOT NULL CHECK (size > 0),
    sha256            text,
    object_key        text NOT NULL UNIQUE,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    upload_expires_at timestamptz NOT NULL,
    ready_at          timestamptz,
    CHECK ((status = 'ready') = (sha256 IS NOT NULL AND ready_at IS NOT NULL))
);
CREATE INDEX assets_by_created ON assets (tenant_id, created_at DESC, id DESC);

CREATE TABLE asset_uses (
    tenant_id uuid NOT NULL,
    asset_id  uuid NOT NULL,
    course_id uuid NOT NULL,
    version   integer NOT NULL,
    PRIMARY KEY (asset_id, course_id, version)
);
CREATE INDEX asset_uses_by_course ON asset_uses (course_id);

SELECT enable_tenant_rls('assets');
SELECT enable_tenant_rls('asset_uses');
