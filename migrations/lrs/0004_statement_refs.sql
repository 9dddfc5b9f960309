-- Statements whose object is a StatementRef, by stored: queries with content filters
-- also list them when the statement they target matches (Communication 2.1.3), walking
-- them newest (or oldest) first without touching other statements.

CREATE INDEX statements_refs_by_stored ON statements (tenant_id, stored, seq) WHERE object_statement IS NOT NULL;
