-- PostgreSQL's form of migrations/0010_request_log_ids.sql.
ALTER TABLE api_requests ADD COLUMN http_request_id TEXT;
