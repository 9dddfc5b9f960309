-- The external engine's epoch (OpenSearch): when this table is empty (a new database, or
-- `mirai rebuild search` emptied it with the other projections), the indexes are emptied
-- before the first document of the replay is written, in the same transaction that
-- claims the row. Not a tenant table: one row for the whole engine.
CREATE TABLE index_epoch (
    id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    started_at timestamptz NOT NULL DEFAULT now()
);
