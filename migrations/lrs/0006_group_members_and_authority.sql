-- Communication 2.1.3, the `agent` filter: "Groups that have members which match the
-- specified Agent … are considered a match". `members` holds the keys (`index_key`) of
-- the members of the actor and object Groups (NULL when neither is a Group), and the
-- filter matches actor, object or a member. `related_agents` covers the authority too:
-- it joins `agents` on insert, and rows stored before are given it here.

ALTER TABLE statements ADD COLUMN members text[];

-- The canonical IFI of an agent object, as `statement::parts::ifi` writes it.
CREATE FUNCTION pg_temp.ifi(a jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        -- The domain lowercased as the database's collation does; Rust lowercases by
        -- Unicode, so under a C locale an old row whose member's domain has non-ASCII
        -- capitals keeps them (a `pg_c_utf8` collation is not on every server).
        WHEN a ? 'mbox' THEN 'mbox:' || substring(a->>'mbox' from '^(.*)@') || '@'
                                    || lower(substring(a->>'mbox' from '@([^@]*)$'))
        WHEN a ? 'mbox_sha1sum' THEN 'sha1:' || lower(a->>'mbox_sha1sum')
        WHEN a ? 'openid' THEN 'openid:' || (a->>'openid')
        WHEN a ? 'account' THEN 'account:' || (a->'account'->>'homePage') || '|' || (a->'account'->>'name')
    END
$$;

-- Rows written before: across tenants, so out of the owner's FORCE for this transaction.
ALTER TABLE statements NO FORCE ROW LEVEL SECURITY;

UPDATE statements s SET members = m.keys
FROM (
    SELECT id, tenant_id, array_agg(DISTINCT index_key(pg_temp.ifi(member)) ORDER BY index_key(pg_temp.ifi(member))) AS keys
    FROM statements,
         LATERAL (SELECT body -> 'actor' AS g UNION ALL SELECT body -> 'object') groups,
         LATERAL jsonb_array_elements(CASE WHEN groups.g ->> 'objectType' = 'Group' AND jsonb_typeof(groups.g -> 'member') = 'array'
                                           THEN groups.g -> 'member' ELSE '[]'::jsonb END) member
    WHERE body -> 'actor' ->> 'objectType' = 'Group' OR body -> 'object' ->> 'objectType' = 'Group'
    GROUP BY id, tenant_id
) m
WHERE s.id = m.id AND s.tenant_id = m.tenant_id;

UPDATE statements SET agents = ARRAY(SELECT DISTINCT x FROM unnest(agents || authority) x ORDER BY x)
WHERE NOT agents @> ARRAY[authority];

ALTER TABLE statements FORCE ROW LEVEL SECURITY;

-- Built after the backfill (one pass instead of an index update per row).
CREATE INDEX statements_by_member ON statements USING gin (members) WHERE members IS NOT NULL;

-- `statement_ref_matches` (0004) for a caller whose reach is their own statements: every
-- statement along the chain must be within that reach (stored under `reach_authority`
-- or with an actor in `reach_actors`), so a reference cannot reveal what a statement
-- the caller may not read contains. NULL `reach_authority`: no restriction. It matches
-- Group members as the `agent` filter does.
CREATE FUNCTION statement_ref_matches_within(
    target uuid,
    f_agent text,
    f_related_agents boolean,
    f_verb text,
    f_activity text,
    f_related_activities boolean,
    f_registration uuid,
    reach_authority text,
    reach_actors text[]
) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
    cur uuid := target;
    r record;
BEGIN
    FOR hop IN 1..10 LOOP
        SELECT actor, authority, object_agent, members, agents, verb, object_activity, activities, registration, object_statement
          INTO r FROM statements WHERE id = cur;
        IF NOT FOUND THEN
            RETURN false;
        END IF;
        IF reach_authority IS NOT NULL AND NOT (r.authority = reach_authority OR r.actor = ANY(reach_actors)) THEN
            RETURN false;
        END IF;
        IF (f_agent IS NULL OR CASE WHEN f_related_agents THEN r.agents @> ARRAY[f_agent]
                                    ELSE r.actor = f_agent OR r.object_agent IS NOT DISTINCT FROM f_agent
                                         OR COALESCE(r.members @> ARRAY[f_agent], false) END)
           AND (f_verb IS NULL OR r.verb = f_verb)
           AND (f_activity IS NULL OR CASE WHEN f_related_activities THEN r.activities @> ARRAY[f_activity]
                                           ELSE r.object_activity IS NOT DISTINCT FROM f_activity END)
           AND (f_registration IS NULL OR r.registration IS NOT DISTINCT FROM f_registration) THEN
            RETURN true;
        END IF;
        IF r.object_statement IS NULL THEN
            RETURN false;
        END IF;
        cur := r.object_statement;
    END LOOP;
    RETURN false;
END
$$;
