-- Queries with content filters (agent, verb, activity, registration) also list a
-- statement whose object is a StatementRef when the statement it targets matches —
-- through chains of references, voided targets included (Communication 2.1.3). The
-- partial index walks only such statements in stored order; the function follows a
-- chain (at most ten hops, so a reference cycle ends) under the caller's RLS.

CREATE INDEX statements_refs_by_stored ON statements (tenant_id, stored, seq) WHERE object_statement IS NOT NULL;

CREATE FUNCTION statement_ref_matches(
    target uuid,
    f_agent text,
    f_related_agents boolean,
    f_verb text,
    f_activity text,
    f_related_activities boolean,
    f_registration uuid
) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
    cur uuid := target;
    r record;
BEGIN
    FOR hop IN 1..10 LOOP
        SELECT actor, object_agent, agents, verb, object_activity, activities, registration, object_statement
          INTO r FROM statements WHERE id = cur;
        IF NOT FOUND THEN
            RETURN false;
        END IF;
        IF (f_agent IS NULL OR CASE WHEN f_related_agents THEN r.agents @> ARRAY[f_agent]
                                    ELSE r.actor = f_agent OR r.object_agent IS NOT DISTINCT FROM f_agent END)
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
