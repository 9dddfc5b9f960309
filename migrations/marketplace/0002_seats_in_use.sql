-- Seats in use per license, from enrollment.seats.changed.v1 (the newest revision wins).
ALTER TABLE licenses ADD COLUMN seats_revision bigint NOT NULL DEFAULT 0;
