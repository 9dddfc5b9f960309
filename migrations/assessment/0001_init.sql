-- assessment: a provider's item bank and quizzes, and the attempts its licensees'
-- learners make (in the learner's tenant). An org reads a provider's quiz, and the items
-- it draws from, only while one of its learners is enrolled in the quiz's course.

-- A question of the bank: its kind, its stem and, in `body`, what the learner sees
-- (choices, the two sides of a matching) and how it is graded (the key), which never
-- leaves the server before an attempt's submission.
CREATE TABLE items (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('single_choice', 'multiple_choice', 'true_false', 'fill_in',
                                             'matching', 'ordering', 'numeric', 'essay')),
    stem       text NOT NULL,
    body       jsonb NOT NULL,
    points     double precision NOT NULL CHECK (points > 0),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX items_by_tenant ON items (tenant_id, created_at DESC, id DESC);
SELECT enable_tenant_rls('items');

-- A quiz of a course: pools of items (each drawing some), the rules of its attempts.
CREATE TABLE quizzes (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL,
    course_id          uuid NOT NULL,
    title              text NOT NULL,
    pools              jsonb NOT NULL,
    item_ids           uuid[] NOT NULL,
    shuffle            boolean NOT NULL,
    time_limit_seconds integer CHECK (time_limit_seconds > 0),
    max_attempts       integer CHECK (max_attempts > 0),
    pass_mark          double precision NOT NULL CHECK (pass_mark >= 0 AND pass_mark <= 1),
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL
);
CREATE INDEX quizzes_of_course ON quizzes (course_id);
SELECT enable_tenant_rls('quizzes');

-- Enrollments as enrollment announces them (in the learner's tenant).
CREATE TABLE enrollments (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    course_id  uuid NOT NULL,
    active     boolean NOT NULL,
    at         timestamptz NOT NULL
);
CREATE INDEX enrollments_of_learner ON enrollments (user_id, course_id) WHERE active;
SELECT enable_tenant_rls('enrollments');

CREATE POLICY enrolled_read ON quizzes FOR SELECT USING (
    EXISTS (SELECT 1 FROM enrollments e WHERE e.course_id = quizzes.course_id AND e.active)
);
CREATE POLICY enrolled_read ON items FOR SELECT USING (
    EXISTS (SELECT 1 FROM quizzes q WHERE items.id = ANY (q.item_ids) AND q.tenant_id = items.tenant_id)
);

-- An attempt: the items drawn for it (a copy, key included, so an edit of the bank
-- changes no attempt under way), the learner's answers, and the verdict.
CREATE TABLE attempts (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    quiz_id      uuid NOT NULL,
    course_id    uuid NOT NULL,
    user_id      uuid NOT NULL,
    number       integer NOT NULL CHECK (number > 0),
    state        text NOT NULL CHECK (state IN ('open', 'pending_review', 'graded')),
    title        text NOT NULL,
    pass_mark    double precision NOT NULL,
    items        jsonb NOT NULL,
    answers      jsonb NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL,
    deadline     timestamptz,
    closed_at    timestamptz,
    closed_by    text CHECK (closed_by IN ('submitted', 'time_limit')),
    score        double precision,
    max_score    double precision NOT NULL,
    scaled       double precision,
    passed       boolean,
    revision     bigint NOT NULL DEFAULT 1,
    UNIQUE (quiz_id, user_id, number)
);
CREATE INDEX attempts_of_learner ON attempts (user_id, quiz_id, number DESC);
SELECT enable_tenant_rls('attempts');
