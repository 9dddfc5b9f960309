-- Seats in use per license, from enrollment.seats.changed.v1 (the newest revision wins).
ALTER TABLE licenses ADD COLUMN seats_revision bigint NOT NULL DEFAULT 0;
-- Counts the license's own changes (seats, status), carried in marketplace.license.changed.v1
-- so a late event never undoes a newer one.
ALTER TABLE licenses ADD COLUMN revision bigint NOT NULL DEFAULT 1;
