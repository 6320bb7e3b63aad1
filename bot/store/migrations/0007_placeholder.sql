-- Placeholder so this branch's migrations run 1..N; the lead replaces it at merge with the
-- real 0007 from another branch.
SELECT 1;
