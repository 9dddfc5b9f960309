-- A lesson is completed only once it was opened (the session's position at some time), so
-- a learner cannot complete a course without going through it.
ALTER TABLE sessions ADD COLUMN opened_lessons uuid[] NOT NULL DEFAULT '{}';
UPDATE sessions SET opened_lessons = ARRAY[position] WHERE position IS NOT NULL;

-- An enrollment's end may be applied before its creation (a retried event is redelivered
-- after later ones): the end leaves a tombstone (no version yet) that the creation fills
-- in without reviving it.
ALTER TABLE enrollments ALTER COLUMN version DROP NOT NULL;

-- A learner's sessions page by when they started (which never moves).
DROP INDEX sessions_of_learner;
CREATE INDEX sessions_of_learner ON sessions (user_id, started_at DESC, id DESC);
