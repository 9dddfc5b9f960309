-- The media a lesson shows (image, video, file blocks) live in the provider's tenant: the
-- player hands an enrolled learner a short-lived signed URL to them. Assets as media
-- announces them, and which versions show which (from the published outline); an org
-- reads a provider's asset only through a version of that provider's it is enrolled in.
CREATE TABLE assets (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    object_key   text NOT NULL
);
SELECT enable_tenant_rls('assets');

CREATE TABLE version_assets (
    course_id uuid NOT NULL,
    version   integer NOT NULL,
    asset_id  uuid NOT NULL,
    tenant_id uuid NOT NULL,
    PRIMARY KEY (course_id, version, asset_id)
);
CREATE INDEX version_assets_of_asset ON version_assets (asset_id);
SELECT enable_tenant_rls('version_assets');
CREATE POLICY enrolled_read ON version_assets FOR SELECT USING (
    EXISTS (SELECT 1 FROM enrollments e
            WHERE e.course_id = version_assets.course_id AND e.version = version_assets.version)
);
CREATE POLICY enrolled_read ON assets FOR SELECT USING (
    EXISTS (SELECT 1 FROM version_assets va WHERE va.asset_id = assets.id AND va.tenant_id = assets.tenant_id)
);
