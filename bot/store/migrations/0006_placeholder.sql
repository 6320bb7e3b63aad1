-- Placeholder so migrations run 1..N on this merge branch: the parallel merge adds the real
-- 0006; the lead drops this file when both land.
SELECT 1;
