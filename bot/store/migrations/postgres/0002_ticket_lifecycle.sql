-- What closing a ticket does, per server, and where closed-but-kept tickets live.

ALTER TABLE servers ADD COLUMN close_mode TEXT NOT NULL DEFAULT 'delete'
    CHECK (close_mode IN ('delete', 'archive'));
ALTER TABLE servers ADD COLUMN archive_category_id BIGINT;  -- NULL: archived tickets stay put
ALTER TABLE servers ADD COLUMN opener_can_close BIGINT NOT NULL DEFAULT 1
    CHECK (opener_can_close IN (0, 1));
ALTER TABLE servers ADD COLUMN dm_transcript BIGINT NOT NULL DEFAULT 0
    CHECK (dm_transcript IN (0, 1));
ALTER TABLE servers ADD COLUMN claim_locks BIGINT NOT NULL DEFAULT 0
    CHECK (claim_locks IN (0, 1));

-- A closed ticket whose channel was kept (archive mode) can be reopened or deleted later.
ALTER TABLE tickets ADD COLUMN archived BIGINT NOT NULL DEFAULT 0 CHECK (archived IN (0, 1));
-- The category the channel was created in, to move it back on reopen.
ALTER TABLE tickets ADD COLUMN category_id BIGINT;
-- Claimed while claim locks were on: unclaiming must unlock, whatever the setting is by then.
ALTER TABLE tickets ADD COLUMN claim_locked BIGINT NOT NULL DEFAULT 0
    CHECK (claim_locked IN (0, 1));
-- The support roles of the button when the ticket opened: staff rights stay with the ticket even
-- if the button is edited or deleted later. A JSON array of role IDs.
ALTER TABLE tickets ADD COLUMN support_role_ids TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(support_role_ids));
