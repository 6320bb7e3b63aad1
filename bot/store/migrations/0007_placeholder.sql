-- Placeholder so this branch's migrations run 1..N; the lead replaces it at merge.
SELECT 1;
