-- Subscription licenses renew period by period as billing is paid: the periods paid so
-- far, whether the license renews at its term's end (the buyer may stop it), and how
-- billing's subscription stands.
ALTER TABLE licenses ADD COLUMN periods integer NOT NULL DEFAULT 1 CHECK (periods >= 1);
ALTER TABLE licenses ADD COLUMN auto_renew boolean NOT NULL DEFAULT false;
ALTER TABLE licenses ADD COLUMN renewal_status text
    CHECK (renewal_status IN ('incomplete', 'active', 'past_due', 'canceled'));
