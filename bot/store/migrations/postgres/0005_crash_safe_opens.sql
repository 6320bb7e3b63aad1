-- Crash-safe opens: the welcome message is a fact on the ticket, and channels a failed open left
-- behind are kept until Discord confirms they are gone.

-- Set in the same write that marks the ticket 'open', so every ticket opened from now on has
-- it. NULL on tickets opened before this migration (their welcome was sent, but not recorded).
ALTER TABLE tickets ADD COLUMN welcome_message_id BIGINT;

-- An outbox: a channel an open created and could not keep, written in the same transaction
-- that drops the open's row, deleted by the cleanup runner (with backoff) until Discord
-- confirms. A crash loses none of them.
CREATE TABLE channel_cleanups (
    channel_id BIGINT NOT NULL PRIMARY KEY,
    guild_id   BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at    DOUBLE PRECISION NOT NULL,  -- when the runner tries next (unix seconds)
    last_error TEXT,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX channel_cleanups_next ON channel_cleanups (next_at);
