-- What a course's blocks may point at: the tenant's media assets that are ready and its
-- imported packages (projected from media's and content's events). A version is
-- published only when every image, video, file and package block points at one of them.
CREATE TABLE known_refs (
    tenant_id uuid NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('asset', 'package')),
    id        uuid NOT NULL,
    PRIMARY KEY (kind, id)
);
SELECT enable_tenant_rls('known_refs');
