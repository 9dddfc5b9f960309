-- Self-enrollment: a pool whose listing allows it (`self_enrollment_allowed`, from the
-- license) can be opened by the org's admins (`self_enrollment_open`); then any member
-- may take one of its seats for themself.
ALTER TABLE pools
    ADD COLUMN self_enrollment_allowed boolean NOT NULL DEFAULT false,
    ADD COLUMN self_enrollment_open boolean NOT NULL DEFAULT false;
