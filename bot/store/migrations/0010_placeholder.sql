-- Placeholder: 0010 belongs to another branch (the lead drops this file at merge).
SELECT 1;
