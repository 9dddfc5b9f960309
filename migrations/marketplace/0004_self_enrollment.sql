-- A listing may let a buying organization open its seats to self-enrollment; an order
-- keeps what its listing allowed when it was placed (and the license carries it).
ALTER TABLE listings ADD COLUMN self_enrollment boolean NOT NULL DEFAULT false;
ALTER TABLE orders ADD COLUMN self_enrollment boolean NOT NULL DEFAULT false;
