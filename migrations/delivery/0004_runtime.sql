-- The SCORM runtime: imported packages as content announces them, which packages each
-- published version plays, and the learners' attempts of a package's item (its CMI data).

-- A package, in its provider's tenant: its standard and, per item (SCO), the launch URL
-- relative to the package root and the manifest's mastery score.
CREATE TABLE packages (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    standard    text NOT NULL,
    title       text NOT NULL,
    items       jsonb NOT NULL,
    imported_at timestamptz NOT NULL
);
SELECT enable_tenant_rls('packages');

-- The packages a version's outline holds (from its package blocks), so that an org reads
-- a package while one of its enrollments points at such a version.
CREATE TABLE version_packages (
    course_id  uuid NOT NULL,
    version    integer NOT NULL,
    package_id uuid NOT NULL,
    tenant_id  uuid NOT NULL,
    PRIMARY KEY (course_id, version, package_id)
);
CREATE INDEX version_packages_of_package ON version_packages (package_id);
SELECT enable_tenant_rls('version_packages');
CREATE POLICY enrolled_read ON version_packages FOR SELECT USING (
    EXISTS (SELECT 1 FROM enrollments e
            WHERE e.course_id = version_packages.course_id AND e.version = version_packages.version)
);
CREATE POLICY enrolled_read ON packages FOR SELECT USING (
    EXISTS (SELECT 1 FROM version_packages vp WHERE vp.package_id = packages.id)
);

-- An attempt of a package's item in a session's lesson. `cmi` is the data model as the
-- SCO and the LMS set it; `seq` the last commit applied (a retried one is answered, not
-- applied again). The runtime's capability is a random token: only its hash is kept,
-- and each launch replaces it (the frame launched before stops committing).
CREATE TABLE runtime_attempts (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    session_id       uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    lesson_id        uuid NOT NULL,
    package_id       uuid NOT NULL,
    item             text NOT NULL,
    standard         text NOT NULL CHECK (standard IN ('scorm_1.2', 'scorm_2004')),
    user_id          uuid NOT NULL,
    number           integer NOT NULL CHECK (number > 0),
    state            text NOT NULL CHECK (state IN ('open', 'suspended', 'ended')),
    cmi              jsonb NOT NULL,
    total_centis     bigint NOT NULL DEFAULT 0,
    seq              bigint NOT NULL DEFAULT 0,
    initialized      boolean NOT NULL DEFAULT false,
    token_hash       bytea NOT NULL UNIQUE,
    token_expires_at timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (session_id, lesson_id, number)
);
SELECT enable_tenant_rls('runtime_attempts');
