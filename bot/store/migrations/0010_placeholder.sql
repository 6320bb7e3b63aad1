-- Placeholder: number 0010 belongs to another branch (dropped at merge).
SELECT 1;
