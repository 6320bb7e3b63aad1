-- Placeholder: number 0011 belongs to another branch (dropped at merge).
SELECT 1;
