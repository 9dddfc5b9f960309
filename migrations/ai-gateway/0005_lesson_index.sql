-- Similarity queries ask for lessons only; documents are read for grounding by an exact
-- scan of the named documents' chunks. One HNSW graph over every chunk let a tenant's
-- many document chunks crowd the lessons out of a filtered approximate search, so the
-- graph now holds lessons alone (the query names `source_type = 'lesson'` literally, so
-- the planner can use the partial index).
DROP INDEX chunks_hnsw;
CREATE INDEX chunks_hnsw_lessons ON chunks USING hnsw (embedding public.vector_cosine_ops) WHERE source_type = 'lesson';
