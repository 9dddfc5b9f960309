-- Indexed identifiers (IRIs, canonical IFIs) longer than 256 bytes are held in the
-- indexed columns as `sha256:<hex>` of themselves (a B-tree row must fit in a third of
-- a page, and xAPI puts no bound on an IRI). The statement bodies keep the full values;
-- the filters only compare for equality. `store::key` computes the same form.

CREATE FUNCTION index_key(v text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN octet_length(v) <= 256 THEN v
                ELSE 'sha256:' || encode(sha256(convert_to(v, 'UTF8')), 'hex') END
$$;

UPDATE statements SET
    actor = index_key(actor),
    verb = index_key(verb),
    object_activity = index_key(object_activity),
    object_agent = index_key(object_agent),
    authority = index_key(authority),
    agents = ARRAY(SELECT index_key(a) FROM unnest(agents) a),
    activities = ARRAY(SELECT index_key(a) FROM unnest(activities) a)
WHERE octet_length(actor) > 256 OR octet_length(verb) > 256 OR octet_length(object_activity) > 256
   OR octet_length(object_agent) > 256 OR octet_length(authority) > 256
   OR EXISTS (SELECT 1 FROM unnest(agents || activities) x WHERE octet_length(x) > 256);

UPDATE documents SET activity_id = index_key(activity_id), agent = index_key(agent)
WHERE octet_length(activity_id) > 256 OR octet_length(agent) > 256;

UPDATE activities SET id = index_key(id) WHERE octet_length(id) > 256;
