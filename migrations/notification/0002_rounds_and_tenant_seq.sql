-- A delivery's attempts run in rounds: a replay starts a new round (the retry schedule
-- from its start). A job carries the round and attempt it was scheduled for and does
-- nothing when the delivery has moved on, so a stale or duplicate job never sends twice.
ALTER TABLE deliveries ADD COLUMN round integer NOT NULL DEFAULT 0;

-- A message's `seq` counts the tenant's own messages, assigned under a per-tenant lock in
-- the consumer's transaction: commit order is seq order (a reader paging by seq never
-- skips one committed late), and a tenant learns nothing of other tenants' volume.
ALTER TABLE messages ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE messages DROP CONSTRAINT messages_seq_key;
DROP INDEX messages_by_tenant;
CREATE UNIQUE INDEX messages_by_tenant ON messages (tenant_id, seq);
