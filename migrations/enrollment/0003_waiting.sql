-- Assignees refused a seat because none was left (or no license was active) wait for
-- one: when a pool of the course gets a free seat (a new or renewed license, more
-- seats, a seat given back), the oldest waiting take it.
CREATE TABLE waiting (
    tenant_id     uuid NOT NULL,
    user_id       uuid NOT NULL,
    course_id     uuid NOT NULL,
    -- Who asked (`assignment:<id>`): the seat is taken in its name.
    requested_by  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, course_id, requested_by)
);
CREATE INDEX waiting_by_course ON waiting (course_id, created_at);
SELECT enable_tenant_rls('waiting');
