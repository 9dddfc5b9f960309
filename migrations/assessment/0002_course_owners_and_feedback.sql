-- A quiz reaches a course's learners only once its course is known to be its tenant's
-- (from authoring's publications): another tenant naming the course gets nothing shown.
-- What a graded attempt tells the learner per question is the quiz's choice: the score
-- only, by default, so that a quiz taken again does not hand over its keys.

CREATE TABLE courses (
    id        uuid PRIMARY KEY,
    tenant_id uuid NOT NULL
);
SELECT enable_tenant_rls('courses');

ALTER TABLE quizzes ADD COLUMN course_verified boolean NOT NULL DEFAULT false;
ALTER TABLE quizzes ADD COLUMN feedback text NOT NULL DEFAULT 'score' CHECK (feedback IN ('score', 'per_question'));
ALTER TABLE attempts ADD COLUMN feedback text NOT NULL DEFAULT 'score' CHECK (feedback IN ('score', 'per_question'));

DROP POLICY enrolled_read ON quizzes;
CREATE POLICY enrolled_read ON quizzes FOR SELECT USING (
    course_verified AND EXISTS (SELECT 1 FROM enrollments e WHERE e.course_id = quizzes.course_id AND e.active)
);
