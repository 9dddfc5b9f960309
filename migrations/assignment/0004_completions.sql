-- Every valid completion of a course by a learner (from the LRS), not only the one an
-- assignee shows: when that one is voided, the next valid one completes the assignee
-- again instead of being lost.
CREATE TABLE completions (
    tenant_id     uuid NOT NULL,
    user_id       uuid NOT NULL,
    course_id     uuid NOT NULL,
    statement_id  uuid NOT NULL,
    -- When it happened (the statement's time, capped at when it was stored).
    at            timestamptz NOT NULL,
    PRIMARY KEY (statement_id, user_id)
);
CREATE INDEX completions_by_learner ON completions (user_id, course_id, at);
SELECT enable_tenant_rls('completions');
