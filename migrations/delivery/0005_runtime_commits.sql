-- A commit's retry is told from a different commit under the same sequence number by
-- the digest of what it carried.
ALTER TABLE runtime_attempts ADD COLUMN last_digest bytea;

-- An org reads a provider's package only through a version of that provider's holding it.
DROP POLICY enrolled_read ON packages;
CREATE POLICY enrolled_read ON packages FOR SELECT USING (
    EXISTS (SELECT 1 FROM version_packages vp
            WHERE vp.package_id = packages.id AND vp.tenant_id = packages.tenant_id)
);
