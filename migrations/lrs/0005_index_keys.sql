-- Indexed identifiers (IRIs, canonical IFIs) longer than 256 bytes, or that look like a
-- key themselves, are held in the indexed columns as `sha256:<hex>` of themselves (a
-- B-tree row must fit in a third of a page, and xAPI puts no bound on an IRI). The
-- statement bodies keep the full values; the filters only compare for equality.
-- `store::key` computes the same form.

CREATE FUNCTION index_key(v text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN octet_length(v) <= 256 AND v NOT LIKE 'sha256:%' THEN v
                ELSE 'sha256:' || encode(sha256(convert_to(v, 'UTF8')), 'hex') END
$$;

-- Rows written before this migration are rewritten across tenants: the owner is bound
-- by the tenant policy (FORCE) and sees no rows without a tenant, so it steps out of
-- the policy for the rewrite only, inside this migration's transaction.
ALTER TABLE statements NO FORCE ROW LEVEL SECURITY;
ALTER TABLE documents NO FORCE ROW LEVEL SECURITY;
ALTER TABLE activities NO FORCE ROW LEVEL SECURITY;

UPDATE statements SET
    actor = index_key(actor),
    verb = index_key(verb),
    object_activity = index_key(object_activity),
    object_agent = index_key(object_agent),
    authority = index_key(authority),
    agents = ARRAY(SELECT index_key(a) FROM unnest(agents) a),
    activities = ARRAY(SELECT index_key(a) FROM unnest(activities) a)
WHERE EXISTS (SELECT 1 FROM unnest(ARRAY[actor, verb, object_activity, object_agent, authority] || agents || activities) x
              WHERE octet_length(x) > 256 OR x LIKE 'sha256:%');

UPDATE documents SET activity_id = index_key(activity_id), agent = index_key(agent)
WHERE octet_length(activity_id) > 256 OR octet_length(agent) > 256
   OR activity_id LIKE 'sha256:%' OR agent LIKE 'sha256:%';

UPDATE activities SET id = index_key(id) WHERE octet_length(id) > 256 OR id LIKE 'sha256:%';

ALTER TABLE statements FORCE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
ALTER TABLE activities FORCE ROW LEVEL SECURITY;
