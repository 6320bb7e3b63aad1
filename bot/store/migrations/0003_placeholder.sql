-- Placeholder so migration numbers run 1..N on the api branch; the lead replaces it at merge.
SELECT 1;
