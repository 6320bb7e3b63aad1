-- PostgreSQL's form of migrations/0012_threads_mode.sql.
ALTER TABLE buttons ADD COLUMN thread_channel_id BIGINT;
ALTER TABLE tickets ADD COLUMN thread_parent_id BIGINT;
